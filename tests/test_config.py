"""Training configs: TOML + flag overrides, and every kind of bad value rejected with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxsnn.cli import main
from fxsnn.errors import UsageError
from fxsnn.training.config import DEFAULT_WEIGHT_RANGE, TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _toml(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_papers_run():
    cfg = TrainConfig()
    assert (cfg.dataset, cfg.hidden, cfg.ratio, cfg.lr, cfg.batch_size, cfg.epochs, cfg.optimizer) == (
        "fmnist",
        [100],
        0.8,
        0.01,
        256,
        30,
        "sgd",
    )
    assert cfg.initial_s1 == 0.001
    assert cfg.weight_ranges() == list(DEFAULT_WEIGHT_RANGE)
    assert cfg.weight_bits == [8, 8]


def test_toml_and_overrides(tmp_path):
    path = _toml(
        tmp_path, 'dataset = "digits"\nhidden = [20, 10]\nweight_bits = [6, 5, 7]\nfloat = true\nlr = 1\n'
    )
    cfg = load_config(path, {"epochs": 3, "lr": None, "seed": 4})
    assert cfg.hidden == [20, 10] and cfg.weight_bits == [6, 5, 7] and cfg.float_mode
    assert cfg.epochs == 3 and cfg.seed == 4 and cfg.lr == 1.0  # None leaves the file's value
    # a flag's s1 replaces the file's target rate (they are exclusive)
    path = _toml(tmp_path, "target_rate = 12.0\n")
    assert load_config(path, {"s1": 0.01}).target_rate is None


def test_the_shipped_configs_are_valid():
    files = sorted(CONFIGS.glob("*.toml"))
    assert files
    for path in files:
        load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate = 0.1\n", "unknown config key(s) 'learning_rate'"),
        ('dataset = "cifar"\n', "'dataset' must be one of"),
        ('lr = "fast"\n', "'lr' must be a number, not 'fast'"),
        ("lr = -1\n", "'lr' must be in (0.0"),
        ("epochs = 2.5\n", "'epochs' must be an integer, not 2.5"),
        ("epochs = 0\n", "'epochs' must be in [1,"),
        ("ratio = 1.5\n", "'ratio' must be in [0.0, 1.0], not 1.5"),
        ("hidden = []\n", "'hidden' must be a list"),
        ("hidden = [100, 0]\n", "'hidden[1]' must be in [1,"),
        ("weight_bits = [8, 8, 8]\n", "'weight_bits' has 3 values but the network has 2 layers"),
        ("weight_bits = 17\n", "'weight_bits' must be in [2, 16], not 17"),
        ('weight_shift = "big"\n', "'weight_shift' must be an integer, not 'big'"),
        ("weight_range = [0.1, 0]\n", "'weight_range[1]' must be in (0.0"),
        ("s1 = 0.001\ntarget_rate = 10\n", "either s1"),
        ('optimizer = "rmsprop"\n', "'optimizer' must be one of 'sgd', 'adam', not 'rmsprop'"),
        ("float = 1\n", "'float_mode' must be a bool, not 1"),
        ('decay_mode = "exp"\n', "'decay_mode' must be one of"),
        ("state_bits = 40\n", "'state_bits' must be in [8, 32], not 40"),
        ("noise = -0.1\n", "'noise' must be in [0.0"),
        ("lr = 0.01\nlr = 0.02\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_rejected_clearly(tmp_path, text, message):
    with pytest.raises(UsageError) as info:
        load_config(_toml(tmp_path, text))
    assert message in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    path = _toml(tmp_path, "batch_size = 0\n")
    code = main(["train", "--config", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "'batch_size' must be in [1," in err[0]
    assert not (tmp_path / "out").exists()
