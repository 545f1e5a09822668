"""Debian's jupyter_kernel_test suite against the installed lora-lab kernel.

Run: JUPYTER_PATH=<prefix>/share/jupyter LORA_LAB_KERNEL=<name> /usr/bin/python3 kernel_conformance.py
Prints one JSON line with the unittest result (run, failures, errors, skipped, passed).
"""
import json
import os
import sys
import unittest

import jupyter_kernel_test


class LoraLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("LORA_LAB_KERNEL", "lora-lab")
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("oops")'
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "const s: string = 'ab'; s + 'c'", "result": "'abc'"},
        {"code": "[1, 2].map((x) => x * 2)", "result": "[ 2, 4 ]"},
    ]
    # The lora-lab display hook: several MIME types in one display_data.
    code_display_data = [
        {
            "code": '(globalThis as any)[Symbol.for("lora-lab.display")]({ data: { "text/html": "<b>hi</b>", "text/plain": "hi" }, metadata: {}, transient: { display_id: "d1" } }, false)',
            "mime": "text/html",
        },
        {"code": 'import * as tslab from "tslab"; tslab.display.html("<i>x</i>")', "mime": "text/html"},
    ]
    completion_samples = [{"text": "Math.ma", "matches": {"max"}}]
    complete_code_samples = ["1 + 1", "function f() { return 1; }"]
    incomplete_code_samples = ["function f() {", "const a = ["]
    code_inspect_sample = "Math.max"
    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "6 ? 7"


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(LoraLabKernelTests)
    ids = [t.id().rsplit(".", 1)[-1] for t in suite]
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    bad = {t.id().rsplit(".", 1)[-1]: tb for t, tb in result.failures + result.errors}
    # A subtest skip names the test it belongs to: count a test as skipped when any part was.
    skipped = sorted({t.id().split(" ")[0].rsplit(".", 1)[-1] for t, _ in result.skipped})
    print(json.dumps({
        "run": result.testsRun,
        "failures": {t.id().rsplit(".", 1)[-1]: tb for t, tb in result.failures},
        "errors": {t.id().rsplit(".", 1)[-1]: tb for t, tb in result.errors},
        "skipped": skipped,
        "passed": [i for i in ids if i not in bad and i not in skipped],
    }))
