"""Map a ``source_path_hash`` (e.g. of a ``rejected_inputs`` row) back to its input file.

The published tables hold only keyed hashes of input paths, since file names often carry
patient names. The operator, who has both the input folder and the key, can recompute every
path's hash and find the file; nothing that maps hashes to paths is ever stored, so the lookup
exists only on the operator's screen when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cxralign.io.deid import pseudonymize
from cxralign.io.ingest import IngestSettings
from cxralign.io.layouts import Study, discover, relative_source
from cxralign.io.secret_key import KEY_ENV_VAR, resolve_key


def locate_inputs(
    input_path: Path,
    hashes: Iterable[str],
    data_root: Path,
    layout: str = IngestSettings().layout,
    key_env: str = KEY_ENV_VAR,
) -> dict[str, str]:
    """``{hash: path relative to the input}`` for each of ``hashes`` found under the input,
    hashed with the key of the catalog at ``data_root`` (the one ingestion used)."""
    input_path = Path(input_path)
    base = input_path.parent if input_path.is_file() else input_path
    key = resolve_key(data_root, key_env)
    wanted = set(hashes)
    found: dict[str, str] = {}
    for study in discover(input_path, layout)[1]:
        for origin in _origins(study, base):
            digest = pseudonymize("path", origin, key)
            if digest in wanted:
                found[digest] = origin
    return found


def _origins(study: Study, base: Path) -> list[str]:
    """The strings ingestion hashes into ``source_path_hash`` for this study's inputs."""
    origins = [relative_source(path, base) for path in study.images]
    if study.key is not None and (study.expects_report or study.report):
        report = study.report
        if report is not None and report.path is not None:
            origins.append(relative_source(report.path, base))
        else:
            origins.append(f"{study.key}#report")
    return origins
