# The plain-data layout that every kernel shares: one struct per layer, pointing into
# NumPy arrays that the estimator owns. Pointers are void* so the structs serve float32
# and float64 alike; each fused kernel casts them to its own `floating`. Whoever fills a
# struct (sklsh/_kernels/_network.pyx) checks every array's dtype, shape and contiguity
# first, so the nogil code below may index without bounds checks.
from libc.stdint cimport int64_t, uint64_t

cdef enum:
    SRP = 0
    WTA = 1
    DWTA = 2
    DOPH = 3

cdef enum:
    FIFO = 0
    RESERVOIR = 1

cdef enum:
    COLLISIONS = 0
    UNION = 1
    SKETCH = 2

cdef enum:
    IDENTITY = 0
    LOGISTIC = 1
    TANH = 2
    RELU = 3

cdef enum:
    SOFTMAX = 0         # one softmax over the (active) outputs, labels share the mass
    SIGMOID = 1         # an independent logistic per output (binary, multi-label)
    SQUARED = 2         # regression


cdef struct HashSpec:
    int family
    int n_tables            # L
    int n_hashes            # K codes per table
    int code_bits           # bits of one code: 1 for SRP, log2(window) for the others
    int bits_per_table          # log2 of the buckets per table
    int dim                 # the layer's fan-in
    bint mips               # append the norm coordinate to keys (asymmetric MIPS)
    void *proj              # SRP: (dim + 2, L * K); row dim is the bias, dim + 1 the norm
    const int *wta_pos      # WTA/DWTA/DOPH: (n_perms, dim), each coordinate's position
    const int *zero_code    # WTA/DWTA: (K * L,) the code a window of zeros reports
    int n_perms
    int window
    int key_set             # DOPH: a key's set is its key_set largest positive weights


cdef struct Tables:
    # the bucket arrays (ids, fill, seen, home) are NULL, and bucket_size 0, where the
    # selection reads none ('sketch')
    int *ids                # (L, n_buckets, bucket_size) unit ids
    int *fill               # (L, n_buckets) ids held
    int64_t *seen           # (L, n_buckets) ids ever offered (FIFO cursor, reservoir)
    int *home               # (L, n_units) bucket a unit was last hashed to: table-major,
                            # so that a refresh walks each table's own span
    uint64_t *sketch        # (n_units, n_words) all K * L codes of a unit, packed
    uint64_t *prefix        # (n_units,) the first word of each sketch, side by side:
                            # a first pass over many units reads 8 bytes of each
    double *scale           # (1,) 1 / largest key norm at the last full rebuild
    # An inference network's prefix table (none in training, where the prefixes
    # change): the distinct prefixes, and group g's units group_units[group_ptr[g]:
    # group_ptr[g + 1]]. At 100k classes a quarter as many groups as units, so the
    # first pass of the sketch ranking scans a quarter as much.
    const uint64_t *groups  # (n_groups,)
    const int *group_ptr    # (n_groups + 1,)
    const int *group_units  # (n_units,)
    int n_groups            # 0: rank unit by unit
    int n_buckets
    int bucket_size
    int policy
    int n_words             # words of a sketch
    int codes_per_word      # 64 // code_bits codes, from bit 0 of each word
    uint64_t lsb            # a 1 at the lowest bit of every code slot of a word


cdef struct Layer:
    int n_in
    int n_out
    int budget              # active units per example (n_out when not hashed)
    int candidates          # units the tables propose (>= budget); the budget of
                            # them with the largest pre-activations stay active
    bint hashed
    int explore             # random units kept active per example in training
    int selection
    bint feature_major      # a dense first layer stored by input feature (below)
    void *W                 # (n_out, n_in): unit-major, each unit's fan-in contiguous;
                            # feature-major (n_in, n_out): each feature's weights into
                            # every unit contiguous, so a sparse row reads and writes
                            # whole rows, and the optimizer steps the batch's features
    void *b                 # (n_out,)
    void *gW                # gradient accumulators, same shapes, zero between batches
    void *gb
    int *touched            # (n_out,), or (n_in,) feature-major: number of the last
                            # batch that wrote into a row
    HashSpec spec
    Tables tables
