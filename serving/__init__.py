"""rasd.serving: the models of ``rasd.inference`` as a REST service and as a batch job on Ray.

    rasd serve --model runs/quickstart/model                  # FastAPI + uvicorn (pip install 'rasd[serve]')
    rasd batch --model runs/quickstart/onnx IN/ OUT/          # Ray Data (pip install 'rasd[ray]')

``rasd.serving.app`` (``create_app``, ``serve``) needs fastapi and uvicorn; ``rasd.serving.ray_batch``
(``run_batch``) needs ray, pyarrow and fsspec. Importing this package imports neither, and
``rasd.inference`` never imports this package.
"""
