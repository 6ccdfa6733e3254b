# cython: language_level=3
"""What this build of the kernels has: OpenMP (this is the one guarded place that
talks to it; a build without it answers too) and Cython's run-time checks."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int sk_max_threads(void) { return omp_get_max_threads(); }
    static int sk_openmp(void) { return 1; }
    #else
    static int sk_max_threads(void) { return 1; }
    static int sk_openmp(void) { return 0; }
    #endif
    #ifndef SKLSH_DEBUG_BUILD
    #define SKLSH_DEBUG_BUILD 0
    #endif
    """
    int sk_max_threads() nogil
    int sk_openmp() nogil
    int SKLSH_DEBUG_BUILD


def openmp_enabled():
    """Whether this build of sklsh's kernels has OpenMP (else they run serially)."""
    return bool(sk_openmp())


def max_threads():
    """Threads an OpenMP region would get now.

    Honours ``OMP_NUM_THREADS`` and limits set through threadpoolctl, which act on the
    OpenMP runtime this module is linked with.
    """
    return sk_max_threads()


def debug_build():
    """Whether the kernels were built with ``SKLSH_DEBUG=1``: Cython's bounds and
    initialisation checks on."""
    return bool(SKLSH_DEBUG_BUILD)
