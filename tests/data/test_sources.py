"""Every kind of data source behind one interface, and the one place that decides which a path is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from onnx import numpy_helper

from mlpack.core.signature import TensorSpec
from mlpack.data.sources import (
    FILE_KINDS,
    DataFile,
    GeneratedInputs,
    NpyFile,
    NpyFolder,
    NpzFile,
    TestDataFolder,
    open_source,
)
from mlpack.errors import BadInputError, DataError

SPECS = (TensorSpec("x", ("batch", 4), "float32"),)
ROWS = np.arange(24, dtype=np.float32).reshape(6, 4)


def _npz(root: Path) -> tuple[Path, int]:
    path = root / "data.npz"
    np.savez(path, x=ROWS, labels=np.arange(6))
    return path, 6  # samples


def _test_sets(root: Path) -> tuple[Path, int]:
    path = root / "sets"
    for index, (start, stop) in enumerate(((0, 2), (2, 5), (5, 6))):
        folder = path / f"test_data_set_{index}"
        folder.mkdir(parents=True)
        (folder / "input_0.pb").write_bytes(numpy_helper.from_array(ROWS[start:stop]).SerializeToString())
    return path, 3  # calls, each as given


def _npy(root: Path) -> tuple[Path, int]:
    path = root / "inputs.npy"
    np.save(path, ROWS)
    return path, 6


def _npy_folder(root: Path) -> tuple[Path, int]:
    path = root / "arrays"
    path.mkdir()
    np.save(path / "x.npy", ROWS)
    np.save(path / "labels.npy", np.arange(6))
    return path, 6


# One sample of every kind in FILE_KINDS: a kind added without one fails the test below.
SAMPLES: dict[type[DataFile], Callable[[Path], tuple[Path, int]]] = {
    NpzFile: _npz,
    TestDataFolder: _test_sets,
    NpyFile: _npy,
    NpyFolder: _npy_folder,
}


def test_every_kind_of_data_file_has_a_sample_here() -> None:
    assert set(SAMPLES) == set(FILE_KINDS)


@pytest.mark.parametrize("kind", FILE_KINDS, ids=lambda k: k.__name__)
def test_each_kind_is_chosen_for_its_paths_and_reads_the_same_rows_every_way(
    tmp_path: Path, kind: type[DataFile]
) -> None:
    path, units = SAMPLES[kind](tmp_path)
    source = open_source(path)
    assert type(source) is kind
    assert [k for k in FILE_KINDS if k.claims(path)][0] is kind
    assert source.count(SPECS) == units
    batches = list(source.batches(SPECS, batch_size=4))
    assert len(batches) == (units if source.calls_as_given else -(-units // 4))
    assert np.array_equal(np.concatenate([b["x"] for b in batches]), ROWS)
    assert len(list(source.batches(SPECS, batch_size=4, limit=1))) == 1
    dataset = source.load(SPECS)
    assert dataset.whole is source.calls_as_given
    whole = np.concatenate([c["x"] for c in dataset.calls]) if dataset.whole else dataset.inputs["x"]
    assert np.array_equal(whole, ROWS)
    first = source.example_arrays(["x"])
    assert list(first) == ["x"] and np.array_equal(first["x"], ROWS[: len(first["x"])])  # the first call


def test_generated_inputs_are_a_source_too() -> None:
    source = GeneratedInputs(batch_size=5, seed=1)
    assert source.count(SPECS) == 5
    dataset = source.load(SPECS, given={"x": np.zeros((5, 4), np.float32)})
    assert dataset.num_samples == 5 and not dataset.inputs["x"].any()
    assert [len(b["x"]) for b in source.batches(SPECS, batch_size=2)] == [2, 2, 1]
    assert np.array_equal(GeneratedInputs(5, seed=1).load(SPECS).inputs["x"], source.load(SPECS).inputs["x"])


def test_a_folder_of_no_kind_says_what_a_source_can_be(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="test_data_set_N"):
        open_source(tmp_path / "empty")


def test_a_missing_file_is_named_as_the_caller_names_it(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="calibration file not found"):
        open_source(tmp_path / "nope.npz", what="calibration file").count(SPECS)


@pytest.mark.parametrize(
    "name, content, what",
    [
        ("data.csv", b"x,y\n1,2\n", "a CSV file"),
        ("model.py", b"print('hi')\n", "Python source"),
        ("data.bin", bytes(range(256)) * 4, "a binary file"),
        ("notes", b"just some text\n", "a text file"),
    ],
)
def test_a_file_of_another_kind_is_named_in_one_line_with_what_is_accepted(
    tmp_path: Path, name: str, content: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as raised:
        open_source(path)
    message = raised.value.message
    assert what in message and ".npz" in message and ".npy" in message and "\n" not in message
    assert "pickle" not in message


def test_an_npy_and_a_folder_of_npy_label_and_name_like_an_npz(tmp_path: Path) -> None:
    folder, _ = _npy_folder(tmp_path)
    assert np.array_equal(open_source(folder).load(SPECS, need_labels=True).labels, np.arange(6))
    two = (TensorSpec("a", ("batch", 4), "float32"), TensorSpec("b", ("batch", 4), "float32"))
    single, _ = _npy(tmp_path)
    with pytest.raises(Exception, match="lacks arrays"):
        open_source(single).load(two)
    np.save(folder / "x.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled object array"):
        open_source(folder).load(SPECS)


def test_data_fed_one_sample_per_call_has_its_labels_and_sample_counts_checked(tmp_path: Path) -> None:
    """A model fixed at batch 1 reads a file of many samples as calls of one; that path skipped the
    labels' checks (7 labels for 40 samples surfaced later without the file's name, and no labels
    at all as "the metric 'accuracy' ... available: ."), and arrays of 30 and 40 samples were
    refused as "dimension 0 must be 1"."""
    fixed = (TensorSpec("x", (1, 4), "float32"), TensorSpec("z", (1, 4), "float32"))
    rows = np.zeros((40, 4), np.float32)
    cases = {
        "no labels": ({}, r"no 'labels' array"),
        "7 labels": ({"labels": np.arange(7)}, r"'labels' has 7 entries but the inputs have 40 samples"),
        "3 slices": ({"labels": np.arange(40), "slices": np.arange(3)}, r"one group id per sample \(40\)"),
        "30 and 40": ({"labels": np.arange(40), "z": rows[:30]}, r"disagree on the number of samples \(\[30, 40\]\)"),
    }
    for name, (extra, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **{"x": rows, "z": rows, **extra})
        with pytest.raises(BadInputError, match=message):
            open_source(path).load(fixed, need_labels=True)
    np.savez(tmp_path / "good.npz", x=rows, z=rows, labels=np.arange(40))
    dataset = open_source(tmp_path / "good.npz").load(fixed, need_labels=True)
    assert len(dataset.calls) == 40 and dataset.labels is not None and len(dataset.labels) == 40


def test_a_scalar_input_beside_one_fixed_at_batch_1_goes_whole_with_every_call(tmp_path: Path) -> None:
    """A rate or threshold beside an input fixed at batch 1 made the file of 40 samples exit 2 as
    "dimension 0 must be 1", where its twin with a dynamic batch read them."""
    fixed = (TensorSpec("x", (1, 4), "float32"), TensorSpec("t", (), "float32"))
    np.savez(tmp_path / "data.npz", x=np.arange(160, dtype=np.float32).reshape(40, 4), t=np.float32(0.5))
    dataset = open_source(tmp_path / "data.npz").load(fixed)
    assert len(dataset.calls) == 40 and all(call["t"].shape == () for call in dataset.calls)
    assert dataset.calls[39]["x"].tolist() == [[156, 157, 158, 159]]
