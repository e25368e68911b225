"""Japanese: the messages of the Config tab."""

MESSAGES: dict[str, str] = {
    # ---- the Config tab ----------------------------------------------------------------------------------
    "config.intro": "この実行のすべての設定です。変更するたびにチェックされます。"
    "プリセットか過去の実行から始めてください。事前チェックの欄に、開始前にこの実行にかかるコストが表示されます。",
    "config.advanced": "詳細設定",
    "config.start_new": "ベースモデル(新しいアダプター)",
    "config.start_run": "実行{run}のアダプター",
    "config.section.model": "モデル",
    "config.section.lora": "LoRAアダプター",
    "config.section.training": "学習",
    "config.field_problem": "⚠️ {label}: {problem}",
    "config.all_valid": "✅ **すべての設定が有効です。** 「学習」タブは*実効設定*に表示された設定で実行します。",
    "config.blocked": "⛔ **{count}件の問題のため学習できません:** {labels}。それぞれの設定の横に説明があります。",
    "config.data_issue": "- ⚠️ **{label}**: {problem}(「データ」タブで変更してください)",
    "config.section_issue": "- ⚠️ **{label}**: {problem}",
    "config.no_preset": "プリセットが選ばれていません",
    "config.no_preset_hint": "一覧から1つ選んでください",
    "config.preset_loaded": "プリセット**{name}**: {description}{note}",
    "config.run_missing": "❌ 実行「{run_id}」にはconfig.yamlがありません。🔄を押して実行の一覧を更新してください。",
    "config.run_data_kept": "(データファイル**{name}**も含む)",
    "config.run_data_unusable": " — データファイルは使えません({problem})。"
    "「データ」タブに表示中のデータセットはそのままです",
    "config.run_data_gone": "データファイル`{name}`はもう存在しません",
    "config.run_data_unrecorded": "データファイルが記録されていません",
    "config.run_data_missing": " — {gone}。「データ」タブでもう一度アップロードしてください(そこに表示中のデータセッ"
    "トはそのままです)",
    "config.run_loaded": "実行**{run_id}**の設定を読み込みました{note}。{extra}",
    "config.not_saved": "❌ 保存されていません: まず上に挙げた{count}件の問題を修正してください。",
    "config.saved": "✅ プリセット**{name}**を保存しました({path})。データファイルはプリセットに含まれません。",
    "config.measure_no_data": "まず「データ」タブでデータセットを選んでください。"
    "速度はあなたのデータの行で測定します。",
    "config.measure_fix_first": "まず上に挙げた問題を修正してください。",
    "config.measure_busy": "別の測定を実行中です。終わるまでお待ちください。",
    "config.measure_started": "⏱ 速度を測定中: モデルを読み込んでいます…",
    "config.measuring": "⏱ 速度を測定中… {seconds}秒(モデルを読み込んだ後、"
    "ウォームアップ2ステップと計測3ステップを実行します。ログ: `{log}`)",
    "config.measure_failed": "❌ 測定に失敗しました: {problem}",
    "config.measured": "✅ 測定結果: {device}で{step}秒/ステップ、{tokens}トークン/秒。",
    "config.layers_label": "アダプターを付ける層",
    "config.layers_info": "モデル自身の線形層(出力ヘッドには付きません)",
    "config.preset_label": "プリセット",
    "config.preset_info": "選ぶと下のすべての設定が埋まります(データセットとベースモデルはそのまま)",
    "config.preset_changed": (
        "いまの設定はどのプリセットとも違います。選ぶと下のすべての設定がそのプリセットで埋まり直します"
    ),
    "config.run_label": "…または過去の実行の設定",
    "config.run_info": "その実行のconfig.yamlと、まだ存在していればデータファイル",
    "config.runs_refresh": "🔄 実行一覧",
    "config.preflight_title": "### 事前チェック",
    "config.checking": "設定を確認しています…",
    "config.measure": "⏱ 速度を測定",
    "config.save_title": "この設定をプリセットとして保存",
    "config.save_name": "プリセット名",
    "config.save_desc": "説明",
    "config.save_desc_hint": "何に使うか",
    "config.save_button": "💾 プリセットとして保存",
    "config.effective_title": "実効設定: 「学習」タブが実行する内容そのもの",
    "config.one_per_line": "1行に1つ",
    "config.processes_machine": "このマシンには{kind}が{count}個あります。"
    "ここでは最大{count}プロセスまで実行できます。",
    "preflight.waiting": "事前チェックには、有効なモデルとアダプターの設定が必要です。"
    "上に挙げた問題を修正してください。",
    "preflight.trainable": "**学習可能なパラメータ {short}個、モデルの{share}%** ({total}個中{count}個。"
    "学習するのはアダプターだけです)",
    "preflight.memory_title": "**{device}での推定メモリ** (各項目の数え方は、ⓘにカーソルを合わせると表示されます)",
    "preflight.memory_head": "| 項目 | 推定値 |\n|---|---|\n",
    "preflight.memory_row": '| {part} <abbr title="{how}">ⓘ</abbr> | {size} |\n',
    "preflight.memory_total": "| **合計** | **{size}**{available} |",
    "preflight.part.weights": "モデルの重み",
    "preflight.part.optimizer": "オプティマイザー",
    "preflight.part.activations": "活性化",
    "preflight.how.weights": "すべての重みを{bytes}バイトで計算。アダプターはfloat32",
    "preflight.how.weights_8bit": "線形層は8ビット、それ以外は{bytes}バイト。アダプターはfloat32",
    "preflight.how.weights_4bit": "線形層は4ビット(NF4とそのスケール)、それ以外は{bytes}バイト。アダプターはfloat32",
    "preflight.how.pairs": "、その2倍: 各行が、プロンプトと選ばれた回答、プロンプトと却下された回答の2つになるため",
    "preflight.how.optimizer": "AdamW: 学習可能なパラメータ1つにつき、float32の状態2つとfloat32の勾配1つ",
    "preflight.how.activations": "バッチ{batch} × {tokens}トークン × 隠れ層サイズ{hidden} × {layers}層 × "
    "値{factor}個、さらにfloat32のロジット",
    "preflight.ram": " (RAM {size}中)",
    "preflight.gpu_memory": " (GPUメモリ {size}中)",
    "preflight.too_big": "\n\n⚠️ 推定値がこのマシンのメモリを超えています。バッチサイズか最大長を下げる、"
    "勾配チェックポイントをオンにする、またはベースモデルを8ビットか4ビットで読み込んでください。",
    "config.processes_single": "ここで実行できるプロセスは1つだけです。このマシンには{kind}が1つしかありません。",
    # ---- the Config tab (ui/config_*.py, formatting.py, widgets.py, handlers.py) -----------------------------
    "config.chosen_layers": "選んだ層",
    "config.bound.at_least": "{value}以上",
    "config.bound.greater_than": "{value}より大きい",
    "config.bound.at_most": "{value}以下",
    "config.bound.less_than": "{value}未満",
    "config.bound.both": "{low}、{high}",
    "config.allowed": "{help}許容範囲: {range}。",
    "config.data_owned": "**「データ」タブで設定します** (ここでは読み取り専用)\n\n| 設定 | 値 |\n|---|---|\n| "
    "ベースモデル | {model} |\n| データファイル | {path} |\n| 行の形式 | {format} (列: {columns}) |\n| 最大長 | "
    "{max_length}トークン |\n| 評価用に取り分ける割合 | {eval_fraction:g} |\n| アシスタントの返答だけから学習 | "
    "{assistant_only} |\n| 分割のシード | {seed} |",
    "config.data_owned.no_file": "*まだありません: 「データ」タブでアップロードするか選んでください*",
    "config.data_owned.as_in_file": "ファイルのとおり",
    "config.preset_yours": "{name}(自作)",
    "config.preset_warnings": "({warnings})",
    "config.run_warnings": "{warnings}。",
    "ui.sentences": "{first}{second}",
    "ui.optional": "任意",
    "ui.bool.true": "はい",
    "ui.bool.false": "いいえ",
    "preset.chat-assistant.description": "時間あたりの成果が最も高いプリセットです。高めの学習率でデータを1回通し、"
    "アシスタントの返答だけから学習します。5%を評価用に取り分けて、最後にその行でベースモデルとアダプターを評価します。"
    "ベンチマークの3つのタスクでは、通常のTRLスクリプトの約半分の時間で、評価用の回答がすべて正解でした"
    "(TRLスクリプトは52〜61%)。",
    "preset.low-memory-8bit.description": (
        "小さなGPUで大きなモデルを扱うためのもの。固定したベースを8ビット(bitsandbytes)で読み込み、活性化を再計算して、速さと引き換えにメモリを節約します。CPUでは遅く、"
        "私たちのテストではあまり学べませんでした(取り分けた回答の正解は0〜38%、シード1つ)。ほかのプリセットにはメモリが足りないGPUで使ってください。"
    ),
    "preset.olora.description": "OLoRA: アダプターをベースモデルの重みの正規直交(QR)分解から始めます。"
    "データを2回通します。ベンチマークの3つのタスクでは評価用の回答がすべて正解でした。chat-assistantは"
    "1回通すだけで、約半分の時間で同じ結果でした。保存したアダプターは元のモデルでもそのまま使えます。",
    "preset.preference-dpo.description": "プロンプト、選ばれた回答、却下された回答の組から、"
    "2つの回答のどちらが良いかをモデルに教えます(DPO)。開始時のモデルから離れすぎないように学習するので、"
    "以前の教師ありの実行のアダプターから始めてください。ベースモデルから直接学習した場合、ベンチマークの"
    "3つのタスクでは評価用の回答が1つも正解しませんでした。10%を取り分けて、選ばれた回答が勝つかを確認します。",
    "preset.preference-orpo.description": (
        "選ばれた回答を学ぶと同時に、却下された回答より好むことも学びます(ORPO)。ベースモデルから1回の実行で、参照モデルの計算は不要です。10%を取り分けて、選ばれた回答が勝つかを確"
        "かめます。私たちの3つのテスト課題では、取り分けた回答の73〜100%が正解で、素のTRLスクリプトの1.6〜1.7倍の時間でした(chat-assistantは回答だけから学んで"
        "100%)。"
    ),
    "preset.quick-start.description": "最も速く十分な結果が出るプリセットです。小さなアダプターでデータの半分を"
    "1回通すだけなので、数百行の短いデータならラップトップのCPUで約1分です。ベンチマークの3つのタスクでは、"
    "通常のTRLスクリプトの約3分の1の時間で、評価用の回答の97〜100%が正解でした。",
}
