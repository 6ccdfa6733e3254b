"""Build sklsh's Cython kernels.

OpenMP is used when the compiler can build and link a test program with it; otherwise
the kernels are built serially and a warning says so. ``SKLSH_DEBUG=1`` turns Cython's
bounds and initialisation checks back on (slow; for hunting memory errors).
"""
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_hashing", "_tables", "_active_set", "_propagate", "_optim", "_network",
           "_hogwild", "_predict", "_build_info"]
DEBUG = os.environ.get("SKLSH_DEBUG", "0") not in ("", "0")


def openmp_flags():
    """Compile and link flags that give OpenMP, or None when the compiler has none."""
    if sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    elif sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    cc = os.environ.get("CC", "cc")
    source = textwrap.dedent("""
        #include <omp.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += omp_get_num_threads() > 0;
            return n > 0 ? 0 : 1;
        }
    """)
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "omp.c"
            src.write_text(source)
            cmd = [cc, *cflags, str(src), "-o", str(Path(tmp) / "omp"), *lflags]
            try:
                ok = subprocess.run(cmd, capture_output=True).returncode == 0
            except OSError:
                ok = False
        if ok:
            return cflags, lflags
    return None


class BuildExt(build_ext):
    """Add OpenMP (when it works) and optimisation flags per compiler."""

    def build_extensions(self):
        omp = openmp_flags()
        if omp is None:
            warnings.warn("sklsh: the compiler has no OpenMP; the kernels are built "
                          "serially and will train on one thread.")
        for ext in self.extensions:
            if self.compiler.compiler_type == "msvc":
                ext.extra_compile_args += ["/O2"]
            else:
                ext.extra_compile_args += ["-O3", "-fno-math-errno"]
                if omp is None:
                    ext.extra_compile_args += ["-fopenmp-simd"]
            if omp is not None:
                ext.extra_compile_args += omp[0]
                ext.extra_link_args += omp[1]
        super().build_extensions()


extensions = [
    Extension(
        f"sklsh._kernels.{name}",
        [f"sklsh/_kernels/{name}.pyx"],
        include_dirs=[np.get_include(), "sklsh/_kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION"),
                       ("SKLSH_DEBUG_BUILD", "1" if DEBUG else "0")],
    )
    for name in KERNELS
]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "nonecheck": False,
    "embedsignature": True,
}

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives,
                          build_dir="build/cython-debug" if DEBUG else "build/cython"),
    cmdclass={"build_ext": BuildExt},
)
