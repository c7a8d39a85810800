"""Language-model students and teachers: Hugging Face causal LMs with LoRA (the reference setup).

    student = LMStudent(LMConfig(model=ModelConfig(path="Qwen/Qwen3-4B-Base")), n_classes=2)
    trained = student.fit(Texts(prompts), targets, seed=0)
    probs = trained.predict_proba(Texts(test_prompts))

A row of a reference dataset becomes a prompt (``prompts``) whose answer is one of two label
tokens; the model's logits for those two tokens at the prompt's last position are the class
logits (``scoring``). Training adds LoRA adapters (``models``) and runs a bf16, length-bucketed
loop (``loop``); inference scores label tokens in batches with transformers or, when it is
installed, vLLM (``inference``). Needs ``pip install 'aar[hf]'``.
"""
