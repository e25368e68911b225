"""Japanese: the messages of the page: header and tabs."""

MESSAGES: dict[str, str] = {
    # ---- the page: header and tabs (lora_studio/ui/app.py) ---------------------------------------------------
    "app.header": "# LoRA Studio\nLoRAで言語モデルをファインチューニング — このマシンで、コードは不要です。",
    "app.tab.data": "データ",
    "app.tab.config": "設定",
    "app.tab.train": "学習",
    "app.tab.export": "マージとエクスポート",
    "app.tab.playground": "プレイグラウンド",
    "app.tab.runs": "実行履歴",
}
