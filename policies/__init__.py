"""The secure-api-platform CrossGuard policy pack.

Every policy lives in a service module (``apigateway``, ``network`` ...) and is listed in
``registry``; ``__main__`` only builds the ``PolicyPack`` from that registry.
"""
