#!/usr/bin/env python3
"""Regenerates crates/modelgates/catalog/models.json from the model price list that the
`litellm` package ships (model_prices_and_context_window_backup.json), fetched from PyPI.

Usage: python3 scripts/regen-catalog.py [--litellm-version X.Y.Z]
Prices become cents per million tokens as exact decimal strings (3e-06 $/token -> "300").
Every curated entry must exist in the source with prices and limits, or the script fails.
Bump CATALOG_VERSION when the set of models changes, so existing workspaces gain new models.
"""

import argparse
import datetime
import decimal
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

CATALOG_VERSION = 2

# (provider, family, litellm key). Providers and families follow the OpenRouter naming that
# workspace defaults use ("openai/gpt-4o", "anthropic/claude-sonnet-4.6").
CURATED = [
    ("anthropic", "claude-opus-4.5", "claude-opus-4-5"),
    ("anthropic", "claude-opus-4.6", "claude-opus-4-6"),
    ("anthropic", "claude-opus-4.7", "claude-opus-4-7"),
    ("anthropic", "claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4.6", "claude-sonnet-4-6"),
    ("anthropic", "claude-haiku-4.5", "claude-haiku-4-5"),
    ("openai", "gpt-4o", "gpt-4o"),
    ("openai", "gpt-4o-mini", "gpt-4o-mini"),
    ("openai", "gpt-4.1", "gpt-4.1"),
    ("openai", "gpt-4.1-mini", "gpt-4.1-mini"),
    ("openai", "gpt-4.1-nano", "gpt-4.1-nano"),
    ("openai", "gpt-5", "gpt-5"),
    ("openai", "gpt-5-mini", "gpt-5-mini"),
    ("openai", "gpt-5-nano", "gpt-5-nano"),
    ("openai", "gpt-5.1", "gpt-5.1"),
    ("openai", "gpt-5.2", "gpt-5.2"),
    ("openai", "gpt-5.4", "gpt-5.4"),
    ("openai", "gpt-5.4-mini", "gpt-5.4-mini"),
    ("openai", "gpt-5.5", "gpt-5.5"),
    ("openai", "o3", "o3"),
    ("openai", "o3-mini", "o3-mini"),
    ("openai", "o4-mini", "o4-mini"),
    ("google", "gemini-2.5-pro", "gemini/gemini-2.5-pro"),
    ("google", "gemini-2.5-flash", "gemini/gemini-2.5-flash"),
    ("google", "gemini-2.5-flash-lite", "gemini/gemini-2.5-flash-lite"),
    ("google", "gemini-3.1-flash-lite", "gemini/gemini-3.1-flash-lite"),
    ("google", "gemini-3.5-flash", "gemini/gemini-3.5-flash"),
    ("mistralai", "mistral-large-3", "mistral/mistral-large-3"),
    ("mistralai", "mistral-medium-3", "mistral/mistral-medium-3"),
    ("mistralai", "mistral-small", "mistral/mistral-small-latest"),
    ("mistralai", "codestral", "mistral/codestral-latest"),
    ("mistralai", "devstral-medium", "mistral/devstral-medium-latest"),
    ("mistralai", "magistral-medium", "mistral/magistral-medium-latest"),
    ("mistralai", "ministral-8b", "mistral/ministral-8b-latest"),
    ("deepseek", "deepseek-chat", "deepseek/deepseek-chat"),
    ("deepseek", "deepseek-reasoner", "deepseek/deepseek-reasoner"),
    ("deepseek", "deepseek-v4-pro", "deepseek/deepseek-v4-pro"),
    ("deepseek", "deepseek-v4-flash", "deepseek/deepseek-v4-flash"),
    ("x-ai", "grok-4.3", "xai/grok-4.3"),
    ("x-ai", "grok-4.5", "xai/grok-4.5"),
    ("x-ai", "grok-4.20", "xai/grok-4.20"),
    ("x-ai", "grok-code-fast-1", "xai/grok-code-fast-1"),
    ("meta-llama", "llama-3.3-70b-instruct", "deepinfra/meta-llama/Llama-3.3-70B-Instruct"),
    ("meta-llama", "llama-3.1-8b-instruct", "deepinfra/meta-llama/Meta-Llama-3.1-8B-Instruct"),
    ("meta-llama", "llama-4-maverick", "deepinfra/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8"),
    ("meta-llama", "llama-4-scout", "deepinfra/meta-llama/Llama-4-Scout-17B-16E-Instruct"),
]

# Image-generation models (output "image": what a workspace's default_image_model must be).
# Token prices where litellm has them (output: its output or output-image token price); a price
# per image where litellm has one; token limits 0 where the provider publishes none.
CURATED_IMAGE = [
    ("openai", "gpt-image-1", "gpt-image-1"),
    ("openai", "gpt-image-1-mini", "gpt-image-1-mini"),
    ("openai", "gpt-image-1.5", "gpt-image-1.5"),
    ("openai", "gpt-image-2", "gpt-image-2"),
    ("google", "gemini-2.5-flash-image", "gemini/gemini-2.5-flash-image"),
    ("google", "gemini-3-pro-image", "gemini/gemini-3-pro-image"),
    ("google", "imagen-3.0-generate-001", "gemini/imagen-3.0-generate-001"),
    ("google", "imagen-3.0-fast-generate-001", "gemini/imagen-3.0-fast-generate-001"),
]

# Models litellm no longer lists under their provider, kept because the seeds use them (seed
# 000's create example sets default_image_model "openai/dall-e-3"). DALL-E 3 is priced per
# image only: OpenAI's list price for a standard 1024x1024 image is $0.040 (4 cents); its
# prompts are limited in characters, not tokens.
MANUAL_IMAGE = [
    {
        "provider": "openai",
        "family": "dall-e-3",
        "inputPricePerMillionTokens": "0",
        "outputPricePerMillionTokens": "0",
        "maxInputTokens": 0,
        "maxOutputTokens": 0,
        "output": "image",
        "outputPricePerImage": "4",
        "sourceKey": "OpenAI list price (not in litellm)",
    },
]


def cents_per_million(per_token):
    d = decimal.Decimal(repr(per_token)) * decimal.Decimal(100_000_000)
    d = d.normalize()
    return format(d, "f")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--litellm-version", default=None)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        spec = "litellm" + (f"=={args.litellm_version}" if args.litellm_version else "")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec], check=True)
        wheel = glob.glob(os.path.join(tmp, "litellm-*.whl"))[0]
        version = os.path.basename(wheel).split("-")[1]
        with zipfile.ZipFile(wheel) as z:
            data = json.loads(z.read("litellm/model_prices_and_context_window_backup.json"))
    models = []
    for provider, family, key in CURATED:
        e = data.get(key)
        if not e or e.get("input_cost_per_token") is None or e.get("output_cost_per_token") is None:
            sys.exit(f"{key}: missing or without prices in litellm {version}")
        if not e.get("max_input_tokens") or not e.get("max_output_tokens"):
            sys.exit(f"{key}: missing token limits in litellm {version}")
        models.append({
            "provider": provider,
            "family": family,
            "inputPricePerMillionTokens": cents_per_million(e["input_cost_per_token"]),
            "outputPricePerMillionTokens": cents_per_million(e["output_cost_per_token"]),
            "maxInputTokens": int(e["max_input_tokens"]),
            "maxOutputTokens": int(e["max_output_tokens"]),
            "sourceKey": key,
        })
    for provider, family, key in CURATED_IMAGE:
        e = data.get(key)
        if not e or e.get("mode") != "image_generation":
            sys.exit(f"{key}: missing or not an image-generation model in litellm {version}")
        input_price = e.get("input_cost_per_token") or 0
        output_price = e.get("output_cost_per_token") or e.get("output_cost_per_image_token") or 0
        entry = {
            "provider": provider,
            "family": family,
            "inputPricePerMillionTokens": cents_per_million(input_price),
            "outputPricePerMillionTokens": cents_per_million(output_price),
            "maxInputTokens": int(e.get("max_input_tokens") or 0),
            "maxOutputTokens": int(e.get("max_output_tokens") or 0),
            "output": "image",
        }
        if e.get("output_cost_per_image") is not None:
            cents = decimal.Decimal(repr(e["output_cost_per_image"])) * 100
            entry["outputPricePerImage"] = format(cents.normalize(), "f")
        if not (input_price or output_price or "outputPricePerImage" in entry):
            sys.exit(f"{key}: no price in litellm {version}")
        entry["sourceKey"] = key
        models.append(entry)
    models.extend(MANUAL_IMAGE)
    out = {
        "version": CATALOG_VERSION,
        "source": f"litellm {version}, litellm/model_prices_and_context_window_backup.json (PyPI package 'litellm')",
        "generatedAt": datetime.date.today().isoformat(),
        "priceUnit": "US cents per million tokens, exact decimal string",
        "models": models,
    }
    path = os.path.join(root, "crates/modelgates/catalog/models.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {len(models)} models from litellm {version} to {path}")


if __name__ == "__main__":
    main()
