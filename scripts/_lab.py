"""What ``scripts/lab`` runs once .venv is ready: your copies of the notebooks, then JupyterLab.

    .venv/bin/python scripts/_lab.py --installed   exit 0 when .venv has what the notebooks need
    .venv/bin/python scripts/_lab.py [JUPYTER ARGS] make the copies, start JupyterLab on them,
                                                    print its URL, wait until it stops

Why copies: running a notebook saves its outputs into the file, so opening ``notebooks/``
itself would leave all seven notebooks modified in git after a first look around, and the
committed outputs are what nbval checks. The copies live in ``my-notebooks/`` (git-ignored;
``CAMS_NOTEBOOK_LAB_DIR`` picks another folder), are made once and then left alone: your
edits, outputs and databases stay yours. A notebook that changed in ``notebooks/`` since its
copy was made is named at start, with how to get the new one.

Why a launcher rather than ``exec jupyter lab``: it prints one line with the URL to open (the
server's own log scrolls it away), and as root, as in most containers, it passes
``--allow-root``, without which Jupyter refuses to start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "notebooks"
FIRST = "00_sandbox_tour.ipynb"
MANIFEST = ".copied-from.json"  # each copy's source digest at the time it was copied
CREDENTIALS = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")


def say(text: str) -> None:
    print(f"lab: {text}", flush=True)


# -- is .venv ready? ---------------------------------------------------------------------------

def installed() -> bool:
    """Whether .venv holds this checkout (editable) at pyproject's version, with every runtime
    and ``notebook`` requirement satisfied: then installing again would change nothing."""
    try:
        import tomllib
        from packaging.requirements import Requirement
    except ImportError:  # Python 3.10 has no tomllib; install, which is always right
        return False
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    try:
        import cams_notebook

        if Path(cams_notebook.__file__).resolve().parents[1] != REPO:
            return False
        if metadata.version(project["name"]) != project["version"]:
            return False
        for line in [*project["dependencies"], *project["optional-dependencies"]["notebook"]]:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            if not requirement.specifier.contains(metadata.version(requirement.name),
                                                  prereleases=True):
                return False
    except (ImportError, metadata.PackageNotFoundError):
        return False
    return True


# -- the working copies ------------------------------------------------------------------------

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def working_copy(target: Path, source_dir: Path = SOURCE) -> None:
    """Copy what is missing from notebooks/ into ``target``; name what changed upstream."""
    first_time = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    manifest_path = target / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    copied, stale = [], []
    for source in sorted(source_dir.rglob("*")):
        relative = source.relative_to(source_dir)
        if not source.is_file() or any(p.startswith(".") for p in relative.parts):
            continue
        destination = target / relative
        key = relative.as_posix()
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
            manifest[key] = _digest(source)
            copied.append(key)
        elif key in manifest and manifest[key] != _digest(source):
            stale.append(key)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    shown = _shown(target)
    if first_time:
        say(f"copied the notebooks to {shown}/: you work on these copies, so notebooks/ "
            "stays as committed")
    else:
        say(f"opening your copies in {shown}/ (notebooks/ stays as committed)"
            + (f"; new since last time: {', '.join(copied)}" if copied else ""))
    for key in stale:
        say(f"notebooks/{key} changed since your copy was made; yours is kept: delete "
            f"{shown}/{key} and run scripts/lab again for the new one")


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


# -- JupyterLab --------------------------------------------------------------------------------

def _url_of(pid: int, process: subprocess.Popen[bytes]) -> str | None:
    """The server's URL, from the runtime file it writes once it listens; None if it died."""
    from jupyter_server.serverapp import list_running_servers

    while process.poll() is None:
        for server in list_running_servers():
            if server.get("pid") == pid:
                token = f"?token={server['token']}" if server.get("token") else ""
                return f"{server['url'].rstrip('/')}/lab/tree/{FIRST}{token}"
        time.sleep(0.2)
    return None


def run_lab(args: list[str]) -> int:
    target = Path(os.environ.get("CAMS_NOTEBOOK_LAB_DIR") or REPO / "my-notebooks")
    working_copy(target)
    if all(os.environ.get(name) for name in CREDENTIALS):
        say("the notebooks use the local CAMS sandbox (Client.sandbox()); your ALIBABA_CLOUD_* "
            "credentials are set, so Client.from_env() in a notebook reaches the real service")
    else:
        say("the notebooks use the local CAMS sandbox (Client.sandbox()): nothing leaves this "
            "machine. For the real service, set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET before scripts/lab and use Client.from_env()")
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={target}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        say("running as root (as in most containers), so JupyterLab gets --allow-root")
        command.append("--allow-root")
    say("starting JupyterLab...")
    process = subprocess.Popen([*command, *args, FIRST], cwd=target)

    def forward(signum: int, _frame: object) -> None:
        # Ctrl-C reaches JupyterLab from the terminal itself (it asks to confirm); a SIGTERM
        # sent to this launcher alone is passed on, so the server never outlives it.
        if signum != signal.SIGINT:
            process.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    url = _url_of(process.pid, process)
    if url is not None:
        say(f"JupyterLab is running; open {url}")
        say("stop it with Ctrl-C (twice), or File > Shut Down in JupyterLab")
    return process.wait()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--installed"]:
        return 0 if installed() else 1
    return run_lab(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
