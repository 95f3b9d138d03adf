"""Builds the compiled hot path (pipeline/text/native/_hotpath.pyx, Cython) and puts copies of the
files the code reads at run time into the wheel (config/resources.py says which and where);
everything else about the package is in pyproject.toml. ``make setup`` (``pip install -e .``)
runs it."""

from __future__ import annotations

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

# Kept in step with config.resources.SHIPPED_RESOURCES (a test compares them); not imported
# from there because the build must not import the package it builds.
SHIPPED_RESOURCES = (
    "deploy/clickhouse/migrations/*.sql",
    "deploy/demo/reviews_sample.csv",
    "docs/bi.md",
)


class BuildPyWithResources(build_py):
    """build_py, plus the shipped resources copied to ``config/_installed/<same path>``.

    An editable install reads the checkout's files directly, so nothing is copied there.
    """

    def run(self) -> None:  # noqa: D102 (build_py.run, extended as the class says)
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for pattern in SHIPPED_RESOURCES:
            sources = sorted(glob.glob(pattern))
            if not sources:
                raise SystemExit(f"setup.py: no file matches shipped resource {pattern!r}")
            for source in sources:
                target = os.path.join(self.build_lib, "config", "_installed", source)
                self.mkpath(os.path.dirname(target))
                self.copy_file(source, target)


setup(
    cmdclass={"build_py": BuildPyWithResources},
    ext_modules=cythonize(
        [
            Extension(
                "pipeline.text.native._hotpath",
                ["pipeline/text/native/_hotpath.pyx"],
                extra_compile_args=["-O3"],
            )
        ],
        build_dir="build/cython",  # the generated C stays out of the source tree
        compiler_directives={"language_level": "3"},
    ),
)
