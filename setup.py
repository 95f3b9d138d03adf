"""Builds the compiled hot path (pipeline/native/_hotpath.pyx, Cython); everything else about
the package is in pyproject.toml. ``make setup`` (``pip install -e .``) runs it."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("pipeline.native._hotpath", ["pipeline/native/_hotpath.pyx"], extra_compile_args=["-O3"])],
        build_dir="build/cython",  # the generated C stays out of the source tree
        compiler_directives={"language_level": "3"},
    )
)
