"""Packaging: the wheel ships the assets, and importing the tracker stays light."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "numpy", "dash", "plotly")


def test_import_tracker_does_not_import_heavy_packages():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tracker, tracker.schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
    }
    assert "tracker" in imported
    assert not imported & set(HEAVY), imported & set(HEAVY)


@pytest.mark.slow
def test_wheel_install_serves_the_assets(tmp_path, wheel):
    """Build the wheel, install it in a fresh venv: the app finds and serves its assets, and the
    report finds its templates."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
        check=True,
    )
    # Dependencies come from the test environment, after the venv's own site-packages (a plain
    # path entry: its .pth files, such as an editable install of this repo, are not processed);
    # carbonboard itself comes only from the wheel.
    deps = sysconfig.get_paths()["purelib"]
    (Path(site) / "test-dependencies.pth").write_text(deps + "\n")
    probe = (
        "import carbonboard, carbonboard.assets_path as a\n"
        "from carbonboard.app import create_app\n"
        "from carbonboard.data.store import HistoryStore\n"
        "d = a.assets_dir()\n"
        "print(carbonboard.__file__)\n"
        "print(d)\n"
        "import sys\n"
        "source = HistoryStore.from_arguments([sys.argv[1]], disk_cache=False)\n"
        "client = create_app(source).server.test_client()\n"
        "for name in ('bootstrap.min.css', 'topojson/world_110m.json'):\n"
        "    assert (d / name).is_file(), name\n"
        "    response = client.get('/assets/' + name)\n"
        "    assert response.status_code == 200, (name, response.status_code)\n"
        "from carbonboard.report import build_report\n"
        "from carbonboard.selection import Selection\n"
        "assert '<section id=\"methodology\">' in build_report(source, Selection())\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [python, "-c", probe, str(ROOT / "examples" / "emissions.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    package_file, assets, ok = result.stdout.split()
    assert package_file.startswith(site)
    assert assets == str(Path(site) / "carbonboard" / "assets")
    assert ok == "ok"
