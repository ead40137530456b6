"""A recipe starts from anywhere: `bash egs/<corpus>/run.sh` from the repository root, `bash run.sh` inside its
folder, and from a checkout whose path has a space; `--help` lists every option with its default."""

from __future__ import annotations

import pytest

from helpers import REPO, corpus_path
from helpers.recipes import run_recipe, scratch_recipe


@pytest.mark.parametrize("corpus", ["yesno", "an4", "fsdd"])
def test_help_from_the_repository_root(corpus):
    proc = run_recipe(REPO / "egs" / corpus, "--help", cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Usage: egs/{corpus}/run.sh [options]")
    for line in ("--stage           [0] ", "--stop-stage      [100] ", "--tag ", "--corpus-dir ", "stamp"):
        assert line in proc.stdout, proc.stdout


def test_help_lists_the_recipes_own_options_with_defaults(tmp_path):
    recipe = scratch_recipe(tmp_path / "a checkout")
    proc = run_recipe(recipe, "--help", cwd=tmp_path / "a checkout", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "  --strict          [false]            true: bad input stops the run" in proc.stdout, proc.stdout
    assert not (recipe / "exp").exists()


def test_unknown_option_is_one_line_error(tmp_path):
    recipe = scratch_recipe(tmp_path)
    proc = run_recipe(recipe, "--no-such", "1", timeout=60)
    assert proc.returncode == 1 and proc.stderr == "error: unknown option '--no-such' (see --help)\n"


def test_data_prep_from_the_root_of_a_path_with_a_space_then_inside(tmp_path):
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    root = tmp_path / "a checkout"
    recipe = scratch_recipe(root)
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "yes no").symlink_to(corpus)
    # from the root, a corpus path relative to it (with a space too)
    proc = run_recipe(recipe, "--corpus-dir", "../corpora/yes no", "--stop-stage", "0", cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (recipe / "data").iterdir()) == ["test_yesno", "train_dev", "train_nodev",
                                                                   "train_yesno"]
    stamp = (recipe / "exp" / ".done" / "stage0").read_text()
    assert f"corpus_dir={tmp_path}/corpora/yes no\n" in stamp
    assert "egs/yesno/run.sh --corpus-dir ../corpora/yes no" in (recipe / "exp" / "log" / "run.log").read_text()
    # inside the folder, the same corpus by its absolute path: the same options in the stamp
    proc = run_recipe(recipe, "--corpus-dir", str(tmp_path / "corpora" / "yes no"), "--stop-stage", "0", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (recipe / "exp" / ".done" / "stage0").read_text() == stamp
    assert len((recipe / "data" / "train_nodev" / "text").read_text().splitlines()) == 27
