"""The package installs as one `evolver` namespace, with no bare top-level names, and imports one way."""

import ast
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["envs", "memory", "agents", "trainers"]  # in import order: each may import only those before it


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_as_one_namespace(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("evolver-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # The dependencies come from this environment (a plain path entry: its .pth files, and so
    # evolver's own editable install, stay inactive); evolver itself comes only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )

    code = (
        "import evolver.agents, evolver.envs, evolver.memory, evolver.trainers; print(evolver.envs.__file__)"
    )
    where = subprocess.check_output([python, "-c", code], cwd=tmp_path, text=True).strip()
    assert where.startswith(str(site))
    for bare in PACKAGES:
        result = subprocess.run(
            [python, "-c", f"import {bare}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode != 0, f"`import {bare}` should fail outside the repository"
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}
    assert top_level == {"evolver", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_one_way(package):
    allowed = set(PACKAGES[: PACKAGES.index(package) + 1])
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("evolver."):
                    target = name.split(".")[1]
                    assert target in allowed, (
                        f"{path.relative_to(ROOT)} imports {name}: {package} may import only {sorted(allowed)}"
                    )


def test_importing_envs_stays_light():
    code = "import sys, evolver.envs; print(sorted(m for m in ('torch', 'transformers', 'trl', 'chromadb', 'litellm') if m in sys.modules))"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"
