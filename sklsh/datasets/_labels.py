"""What the text loaders share: keeping the classes with enough documents."""
import numpy as np


def frequent_classes(documents, labels, min_count):
    """(documents, y, names) of the documents whose label (one per document) labels
    at least `min_count` of them: y numbers the labels kept in sorted order."""
    classes, y, counts = np.unique(np.asarray(labels, dtype=object),
                                   return_inverse=True, return_counts=True)
    keep = counts[y] >= min_count
    kept = counts >= min_count
    renumber = np.cumsum(kept) - 1
    documents = [d for d, k in zip(documents, keep) if k]
    return (documents, renumber[y[keep]].astype(np.int64),
            tuple(str(c) for c in classes[kept]))
