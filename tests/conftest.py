import os

import pytest
import torch

# Without a GPU the Triton kernels are tested in Triton's interpreter; triton reads the
# switch when it is imported, and other tests (torch.compile) may import it first.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True, scope="session")
def _a_cache_folder_of_the_tests_own(tmp_path_factory):
    """Stamps of passed data checks go to a folder of this test session, never the user's
    ~/.cache (a test that wants an empty cache sets KINNSCI_CACHE_DIR itself)."""
    old = os.environ.get("KINNSCI_CACHE_DIR")
    os.environ["KINNSCI_CACHE_DIR"] = str(tmp_path_factory.mktemp("kinnsci-cache"))
    yield
    if old is None:
        os.environ.pop("KINNSCI_CACHE_DIR", None)
    else:
        os.environ["KINNSCI_CACHE_DIR"] = old


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype, restoring it afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(autouse=True)
def _models_registered_by_a_test_are_forgotten():
    """A model class defined inside a test registers itself (under its class name when it
    gives none); the registry is restored afterwards so tests do not see each other's."""
    from kinnsci.models.base import MODELS

    before = dict(MODELS)
    yield
    MODELS.clear()
    MODELS.update(before)
