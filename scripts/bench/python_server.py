#!/usr/bin/env python3
"""Reference server for the benchmark: aiohttp + PyTorch, the same TorchScript file and the same
preprocessing (reference_preprocess.py) as the Rust server, answering POST /api/v1/identify with
the top-5 classes. One inference thread, torch using all cores within it: the usual way such a
service is written. Usage: python_server.py BUNDLE_DIR PORT
"""
import asyncio
import concurrent.futures
import io
import json
import os
import sys

import torch
from aiohttp import web
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bundle_parts import model_file  # noqa: E402
from reference_preprocess import preprocess  # noqa: E402


def main():
    bundle, port = sys.argv[1], int(sys.argv[2])
    manifest = json.load(open(os.path.join(bundle, "manifest.json")))
    model = torch.jit.load(os.path.join(bundle, model_file(manifest)))
    model.eval()
    labels = [l["name"] for l in manifest["labels"]]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def infer(data: bytes):
        x = preprocess(Image.open(io.BytesIO(data)), manifest)
        with torch.no_grad():
            p = torch.softmax(model(x), dim=1)[0]
        top = torch.topk(p, 5)
        return [{"label": labels[i], "probability": float(v)} for v, i in zip(top.values, top.indices)]

    async def identify(request):
        reader = await request.multipart()
        results = []
        async for part in reader:
            if part.name == "image":
                data = await part.read()
                top = await asyncio.get_running_loop().run_in_executor(pool, infer, data)
                results.append({"filename": part.filename, "top": top})
        if not results:
            return web.json_response({"error": "no image"}, status=400)
        return web.json_response({"results": results})

    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_post("/api/v1/identify", identify)
    app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
