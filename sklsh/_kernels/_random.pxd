# Counter-based random numbers for the kernels.
#
# Every example gets its own stream, seeded from (batch seed, example row), so what a
# kernel draws for one example never depends on its batch-mates or on which thread
# runs it. splitmix64 is tiny, passes BigCrush and needs no shared state.
from libc.stdint cimport uint64_t

cdef inline uint64_t splitmix64(uint64_t *state) noexcept nogil:
    state[0] += <uint64_t>0x9E3779B97F4A7C15
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline uint64_t stream(uint64_t seed, uint64_t key) noexcept nogil:
    """The first state of the stream that belongs to `key` under `seed`."""
    cdef uint64_t state = seed ^ (key * <uint64_t>0xD1B54A32D192ED03)
    splitmix64(&state)
    return state


cdef inline int below(uint64_t *state, int n) noexcept nogil:
    """A draw from [0, n); the modulo bias is below 2**-32 for n < 2**32."""
    return <int>(splitmix64(state) % <uint64_t>n)
