"""The compiled ledger verifier is optional: without a C compiler or the
OpenSSL headers the build skips it and `tonne ledger verify` uses its
pure-Python path (same results, slower)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tonne.ledger._fastverify",
            ["tonne/ledger/_fastverify.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
