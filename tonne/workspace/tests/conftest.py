# The controls' world (two organisations with approvers, units issued, KYC
# verified) for the workspace's tests with the controls on.
from tonne.controls.tests.conftest import world  # noqa: F401
