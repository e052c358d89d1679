"""One seed gives one sequence of configurations in every process, whatever its string hashing.

Python salts ``str`` hashes per process (``PYTHONHASHSEED``), so anything that orders
configurations through a ``set`` or ``dict`` of hashed keys proposes another sequence in another
worker. In-process seeding tests cannot see that; two interpreters with different hash seeds can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from recsearch.strategies import available

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np, optuna
    from recsearch.data.synthetic import synthetic
    from recsearch.errors import ForbiddenConfigurationError
    from recsearch.spaces import preset, suggest
    from recsearch.strategies import available, create

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    fast = json.loads(sys.argv[1])
    schema = synthetic(200, n_categorical=6, n_numeric=0, max_vocab=20, seed=0).schema
    space = preset("autofeature", schema)  # booleans with conditional categorical children
    out = {}
    for name in sorted(available()):
        study = create(name, space, seed=0, **fast.get(name, {})).create_study()
        digest = hashlib.sha1()
        for _ in range(16):
            trial = study.ask()
            try:
                array = suggest(trial, space).get_array()
            except ForbiddenConfigurationError:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            weights = np.arange(len(array)) % 5 + 1
            study.tell(trial, float(np.nansum(np.sin(np.nan_to_num(array, nan=-1.0) * weights))))
            digest.update(np.nan_to_num(array, nan=-9.0).tobytes())
        out[name] = digest.hexdigest()
    print(json.dumps(out))
    """
)


def test_seeded_sequences_do_not_depend_on_string_hashing(
    tmp_path: Path, fast_options: dict[str, dict[str, object]]
) -> None:
    script = tmp_path / "sequence.py"
    script.write_text(SCRIPT)
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, str(script), json.dumps(fast_options)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        digests.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert set(digests[0]) == set(available())
    differing = sorted(name for name in digests[0] if digests[0][name] != digests[1][name])
    assert differing == []
