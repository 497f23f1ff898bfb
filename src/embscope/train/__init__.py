"""Train a small sentiment model whose embedding layer becomes an explorable space.

So far: the text vectorizer (``embscope.train.vectorizer``), compatible with Keras'
``TextVectorization``, and the removal of training texts that leak a held-out set
(``embscope.train.leakage``). The model, the training loop and the export come next.
"""
