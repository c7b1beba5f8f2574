import pytest

from mlpack import parse_input_spec
from mlpack.errors import InputSpecError


@pytest.mark.parametrize(
    ("text", "shape", "dtype"),
    [
        ("x:1x3x224x224", (1, 3, 224, 224), "float32"),
        ("ids:batch,seq:int64", ("batch", "seq"), "int64"),
        ("x:batch,3,32,32:float16", ("batch", 3, 32, 32), "float16"),
        ("tokens:batch,max_len:int32", ("batch", "max_len"), "int32"),
        ("mask:2x7:bool", (2, 7), "bool"),
    ],
)
def test_parses_names_shapes_and_dtypes(text: str, shape: tuple, dtype: str) -> None:
    spec = parse_input_spec(text)
    assert spec.shape == shape
    assert spec.dtype == dtype
    assert spec.name == text.split(":")[0]


@pytest.mark.parametrize(
    "text", ["x", "x:", ":1x3", "x:1x3:complex", "x:1x0", "x:1x-3", "x:1x3:float32:extra", "x:1xx3"]
)
def test_rejects_malformed_specs(text: str) -> None:
    with pytest.raises(InputSpecError, match="input spec"):
        parse_input_spec(text)
