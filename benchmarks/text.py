"""Text: the default run on tweet-sentiment, cold and warm, and the frozen encoder's throughput.

    python -m benchmarks.text [--seed 3] [--data-dir ../shared/data/tweet-sentiment] [--skip-runs]

Printed: the encoder's texts per second on this machine's device (batch 64, texts cut to 128
tokens, on the first 2,000 training tweets, cache bypassed); then `python -m pipelines.run
tweet_sentiment` with an empty cache (cold: every tweet embedded) and again with the cache it
left (warm), each whole command's wall time, each member's CV and the blend's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def throughput(data_dir, count=2000):
    from features.sentences import SentenceEmbedding, encoder

    texts = pd.read_csv(data_dir / "train.csv").text.astype(str).to_numpy(dtype=object)[:count]
    step = SentenceEmbedding(max_length=128, batch_size=64)
    tokenizer, network, _ = encoder("")
    step.embed(tokenizer, network, texts[:64])  # warm-up
    start = time.perf_counter()
    step.embed(tokenizer, network, texts)
    seconds = time.perf_counter() - start
    device = next(network.parameters()).device
    print(f"encoder all-MiniLM-L6-v2 on {device}: {len(texts) / seconds:.1f} texts/s "
          f"({len(texts)} tweets in {seconds:.1f} s, batch 64, max length 128)", flush=True)


def run(data_dir, seed, workdir, cache):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.run", "tweet_sentiment", "--data-dir", str(data_dir),
                           "--seed", str(seed), "--submission", "submission.csv"], cwd=workdir, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO), "PIPELINES_CACHE_DIR": str(cache)})
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    folder = sorted((workdir / "runs" / "tweet_sentiment").glob("2*"))[-1]
    metrics = json.loads((folder / "metrics.json").read_text())
    members = {name: round(member["mean"], 5) for name, member in metrics["members"].items()}
    print(f"  wall {wall:.1f} s; CV log loss {metrics['mean']:.5f} ± {metrics['std']:.5f}"
          f" ({metrics.get('ensemble', 'one member')}); members {members}", flush=True)
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=SHARED / "tweet-sentiment")
    parser.add_argument("--skip-runs", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    with tempfile.TemporaryDirectory() as temporary:
        os.environ["PIPELINES_CACHE_DIR"] = str(Path(temporary) / "throughput-cache")
        throughput(data_dir)
        if args.skip_runs:
            return
        cache = Path(temporary) / "cache"
        for label in ("cold", "warm"):
            workdir = Path(temporary) / label
            workdir.mkdir()
            print(f"tweet_sentiment default run, seed {args.seed}, {label} cache:", flush=True)
            run(data_dir, args.seed, workdir, cache)


if __name__ == "__main__":
    main()
