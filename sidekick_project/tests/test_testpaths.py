"""Every app's tests run in the default suite (`make test`): an app missing from pytest.ini's
testpaths has its tests silently skipped (privacy's were, until this test)."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_tests_package_is_in_testpaths():
    config = configparser.ConfigParser()
    config.read(ROOT / "pytest.ini")
    testpaths = set(config["pytest"]["testpaths"].split())
    apps_with_tests = {path.parent.parent.name for path in ROOT.glob("*/tests/__init__.py")}
    assert apps_with_tests, "no tests packages found: the glob is wrong"
    assert apps_with_tests - testpaths == set()
