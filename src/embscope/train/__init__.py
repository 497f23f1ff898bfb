"""Train a small sentiment model whose embedding layer becomes an explorable space.

So far: the text vectorizer (``embscope.train.vectorizer``), compatible with Keras'
``TextVectorization``. The model, the training loop and the export come with issue 6.
"""
