"""JAX's persistent compilation cache, for the command line and the scripts.

Compiling the quick-start run's programs (data generation, initialisation, one epoch, the
final evaluation) takes about 5 s of XLA time on the 2-core CPU; a second run of the same
structure (any numeric values: they are arguments) loads them from this cache instead.

- Where: ``$SSLAX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/sslax/xla``, else
  ``~/.cache/sslax/xla``.
- On by default for ``sslax`` commands and ``scripts/`` (they compile the same structures
  over and over); ``SSLAX_COMPILE_CACHE=0`` turns it off. ``import sslax`` alone never
  changes JAX's configuration: a library call :func:`enable` to opt in.
- Safe: JAX keys each entry by the program, the JAX/XLA versions, the compiler options and
  the device, so a stale entry is never used for another program or version. An entry that
  cannot be read (a write cut short by a crash, a damaged disk) makes JAX warn and compile
  again; :func:`forget_unreadable` then deletes it so that the next run writes it afresh.
  A folder that cannot be created leaves the cache off, with one warning.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import jax

ENV_DIR, ENV_SWITCH = "SSLAX_CACHE_DIR", "SSLAX_COMPILE_CACHE"
_UNREADABLE = re.compile(r"Error reading persistent compilation cache entry for '([^']+)'")


def cache_dir() -> Path:
    """The cache folder (see the module docstring); not created here."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sslax" / "xla"


def enabled_by_environment() -> bool:
    """False when ``SSLAX_COMPILE_CACHE`` is 0, false, no or off."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def enable(directory: Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``directory`` for every program,
    however fast it compiled. Default: the folder JAX is already configured with
    (``JAX_COMPILATION_CACHE_DIR``), else :func:`cache_dir`. Returns the folder, or ``None``
    (with a warning) when it cannot be created."""
    configured = jax.config.jax_compilation_cache_dir
    directory = Path(directory or configured or cache_dir())
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        warnings.warn(f"compilation cache off: cannot create {str(directory)!r} "
                      f"({error.strerror or error})", stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def enable_unless_turned_off() -> Path | None:
    """:func:`enable`, unless ``SSLAX_COMPILE_CACHE`` turns it off (what the ``sslax``
    commands and the scripts call)."""
    return enable() if enabled_by_environment() else None


def forget_unreadable(message: str) -> str | None:
    """If ``message`` is JAX's warning about an unreadable cache entry, delete that
    program's entries from the cache folder (they are rewritten by the next compile) and
    return the program's name; else ``None``."""
    found = _UNREADABLE.search(message)
    directory = jax.config.jax_compilation_cache_dir
    if found is None or not directory:
        return None
    for entry in Path(directory).glob(f"{found.group(1)}-*"):
        entry.unlink(missing_ok=True)
    return found.group(1)
