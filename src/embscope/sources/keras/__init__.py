"""Keras model files: the weights of one Embedding layer, read with h5py alone.

No TensorFlow, no Keras, nothing unpickled. Three layouts, all HDF5 underneath:

- Keras 3 ``.keras``: a zip holding ``config.json`` and ``model.weights.h5``; a layer's
  variables sit at ``layers/<snake_case class>[_<n>]/vars/0`` (nested models add their own
  ``layers/…`` level), and recent Keras versions also record the layer's name on its ``vars``
  group. The same tree, without a config, is a Keras 3 ``.weights.h5``.
- legacy whole-model ``.h5`` (Keras 2, or Keras 3 saving to ``.h5``): the config in the
  ``model_config`` attribute, weights under ``model_weights/<layer>/…/embeddings[:0]``.
- legacy weights-only ``.h5`` (Keras 2 ``save_weights``): the same tree at the root, no config.

The layer is found from the model config (class ``Embedding``): the one named ``layer=``, or the
only one. Without a config, datasets named ``embeddings`` (legacy) or ``layers/embedding*``
groups (Keras 3) are the candidates. Uncompressed weights are memory-mapped, even inside a
``.keras`` zip (Keras stores its members uncompressed).

The vocabulary is a text file with one token per line, row 0 = padding (the empty string) and
row 1 = ``[UNK]``, as ``TextVectorization.get_vocabulary()`` gives them: ``vocabulary=``, or the
one beside the model (``<stem>.vocab.txt``, else the only ``*vocab*.txt`` there, such as the
tutorial's ``embedding-vocabulary.txt``; see ``find_vocabulary``). Row 0, the padding, is left
out as the tutorial's projector export leaves it out (10,000 rows give 9,999 words). Without a
vocabulary the keys are the row numbers. Metadata: ``token_id`` (the row in the layer).

Sizes are checked before anything is read into memory: a zip entry may not declare more than
its compressed bytes can expand to, and the layer's weights may not take more than
``max_inflation`` times the storage the file gives them (an HDF5 dataset can declare any shape
and leave its storage unwritten, to be read as fill values).

``reader`` loads the space; ``archive`` opens a ``.keras`` zip and ``hdf5`` an HDF5 tree,
``layers`` finds the Embedding layers and ``weights`` reads one.
"""

from .layers import EmbeddingLayer, embedding_layers
from .reader import load_keras

__all__ = ["EmbeddingLayer", "embedding_layers", "load_keras"]
