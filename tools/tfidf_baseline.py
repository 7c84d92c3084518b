#!/usr/bin/env python3
"""The non-neural baseline of a text stream: tf-idf + logistic regression, per classification task.

For each task of a stream folder (stream.json, <task>/{train,test}.jsonl; BENCHMARKS.md's layout)
that has labels, fits a classifier on the training split and reports its accuracy on the test split,
beside the chance level (the share of the most common test label):

  features  tf-idf of character 2–5-grams within word boundaries (char_wb) and of word 1–2-grams,
            sublinear term frequency, on the instruction and the input as the model sees them
  model     logistic regression (lbfgs, C = 10, up to 2,000 iterations), one-vs-rest over labels

These are the figures a task's single-task ceiling ST must reach (BENCHMARKS.md). Needs Debian's
python3-sklearn; runs offline in a few seconds; not part of the test suite.

    /usr/bin/python3 tools/tfidf_baseline.py STREAM_DIR [--json OUT.json]
"""
import argparse
import collections
import json
import os
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union


def read_split(stream_dir, task, split):
    with open(os.path.join(stream_dir, task, split + ".jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    texts = [(row.get("instruction", "") + "\n" + row["input"]).strip() for row in rows]
    return texts, [row["output"] for row in rows]


def classifier():
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1),
    )
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=2000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stream_dir")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with open(os.path.join(args.stream_dir, "stream.json"), encoding="utf-8") as f:
        stream = json.load(f)
    results = {}
    print("| task | labels | train | test | chance % | tf-idf + LR % |")
    print("|---|---|---|---|---|---|")
    for task in stream["tasks"]:
        if not task.get("labels"):
            continue
        name = task["name"]
        train_x, train_y = read_split(args.stream_dir, name, "train")
        test_x, test_y = read_split(args.stream_dir, name, "test")
        model = classifier().fit(train_x, train_y)
        accuracy = 100.0 * sum(p == y for p, y in zip(model.predict(test_x), test_y)) / len(test_y)
        chance = 100.0 * collections.Counter(test_y).most_common(1)[0][1] / len(test_y)
        results[name] = {"tfidf_lr": round(accuracy, 1), "chance": round(chance, 1), "train": len(train_y), "test": len(test_y)}
        print(f"| {name} | {len(task['labels'])} | {len(train_y)} | {len(test_y)} | {chance:.1f} | {accuracy:.1f} |")
    if results:
        mean = sum(r["tfidf_lr"] for r in results.values()) / len(results)
        print(f"| mean | | | | | {mean:.1f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
