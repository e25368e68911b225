"""Japanese: the settings' labels and help (RunConfig and generation fields), and where report_to's logs are."""

MESSAGES: dict[str, str] = {
    # ---- settings: label and help of every RunConfig field ----------------------------------------------
    "model.name_or_path.label": "ベースモデル",
    "model.name_or_path.help": "ファインチューニングするモデルです。内蔵のSmolLM2(オフラインで動作)、Hugging Face "
    "HubのID(owner/name)、またはこのマシン上のフォルダーを指定できます。",
    "model.dtype.label": "重みの精度",
    "model.dtype.help": "ベースモデルの重みをどのくらいの精度で保持するかです。autoは、対応するGPUではbfloat16を、"
    "CPUではfloat32を選びます。",
    "model.load_in_8bit.label": "ベースモデルを8ビットで読み込む",
    "model.load_in_8bit.help": "固定したベースモデルを8ビットの数値で保持します(bitsandbytes)。"
    "メモリは約半分になりますが、少し遅くなります。",
    "model.load_in_4bit.label": "ベースモデルを4ビットで読み込む(QLoRA)",
    "model.load_in_4bit.help": "固定したベースモデルを4ビットの数値で保持します(bitsandbytesのNF4、QLoRAの手法)。"
    "メモリは約4分の1になりますが、遅くなり、回答の正確さも完全な精度より少し下がります。"
    "マージは常に完全な精度のベースモデルからやり直します。8ビットとは同時に使えません。",
    "lora.r.label": "ランク(r)",
    "lora.r.help": "アダプターの大きさです。大きいほど細かい点まで学習できますが、メモリと時間が多くかかります。"
    "ほとんどのタスクには8か16が適しています。",
    "lora.alpha.label": "アルファ(スケーリング)",
    "lora.alpha.help": "アダプターによる変化をどのくらい強く反映するかです。変化にはalpha ÷ ランクが掛けられます。"
    "ランクの2倍の値がよく使われます。",
    "lora.dropout.label": "アダプターのドロップアウト",
    "lora.dropout.help": "学習中にアダプターへの入力をランダムに無効にする割合で、例の丸暗記(過学習)を防ぎます。"
    "通常は0から0.1です。",
    "lora.target_modules.label": "アダプターを付ける層",
    "lora.target_modules.help": "all-linearはすべての線形層にアダプターを付けます(推奨)。"
    "層を自分でチェックして選ぶこともできます。",
    "lora.init.label": "アダプターの初期化",
    "lora.init.help": "アダプターの初期状態です。defaultは変化ゼロから始めます。"
    "oloraとpissaはベースモデルの重みを分解したものから始め、多くの場合より速く学習します。",
    "lora.use_rslora.label": "ランク安定化LoRA",
    "lora.use_rslora.help": "alpha ÷ ランクの代わりにalpha ÷ √ランクでスケーリングします。"
    "ランクが高くても学習が安定します。",
    "lora.bias.label": "バイアスも学習する",
    "lora.bias.help": "各層のバイアス項をアダプターと一緒に学習するかどうかです(通常はnone)。",
    "lora.use_dora.label": "DoRA(重み分解LoRA)",
    "lora.use_dora.help": "重みの変化の大きさと向きを別々に学習します。ランクが低いときに良くなることがありますが、"
    "1ステップの時間が約1.5倍になり(ここでの測定)、常に良くなるとは限りません。通常のLoRAと比べて試してください。",
    "lora.loraplus_lr_ratio.label": "LoRA+の学習率比",
    "lora.loraplus_lr_ratio.help": "LoRA+は、アダプターの2つ目の行列を1つ目よりこの倍率だけ速く学習させます。"
    "同じコストでより速く学習できることが多いです。論文の推奨値は16です。0 = オフ(通常のLoRA)。",
    "lora.start_from.label": "開始点",
    "lora.start_from.help": "ベースモデルに新しいアダプターを付けるか、以前の実行のアダプターをさらに学習します(例: "
    "まず教師ありの実行、次にDPO)。以前の実行を選んだ場合、アダプターの大きさと層はその実行から引き継がれます。",
    "data.path.label": "学習データファイル",
    "data.path.help": "学習に使う例のファイルです。チャットのメッセージ、prompt/completionのペア、"
    "またはプレーンテキストが使えます。",
    "data.format.label": "行の形式",
    "data.format.help": "各行に何が入っているかです。autoは列名から自動で判別します。",
    "data.columns.label": "列の対応付け",
    "data.columns.help": "どの列にmessages、prompt、completion、textが入っているかを指定します。",
    "data.eval_fraction.label": "評価用に取り分ける割合",
    "data.eval_fraction.help": "学習に使わない例でモデルを測るために、取り分けておく行の割合です(0 = 取り分けない)。",
    "data.max_length.label": "最大長(トークン)",
    "data.max_length.help": "モデルが読む例の最大の長さ(トークン数)です。これより長い行は切り詰められます。",
    "data.assistant_only_loss.label": "アシスタントの返答だけから学習",
    "data.assistant_only_loss.help": "チャットデータ向けです。モデルはユーザーの発言ではなく、"
    "アシスタントの返答の書き方を学習します。",
    "training.method.label": "学習方法",
    "training.method.help": "sftは、例に含まれる回答の書き方を学習します。dpoとorpoは、"
    "2つの回答のペアからどちらが良いかを学習します(prompt、chosen、rejectedを持つデータ)。"
    "dpoは開始時のモデルから離れすぎないように学習し、orpoは選ばれた回答そのものも学習するため、"
    "参照モデルの計算が不要です。",
    "training.dpo_beta.label": "DPOのベータ",
    "training.dpo_beta.help": "DPOが開始時のモデルにどのくらい近く留まるかです。高いほど近くに留まり、"
    "低いほど選ばれた回答の方へ大きく動きます。通常は0.1です。",
    "training.dpo_loss.label": "DPOの損失関数",
    "training.dpo_loss.help": "sigmoidは標準のDPOです。ipoは、ペアの区別が簡単なときにより安定します。hingeは、"
    "ペアの差がはっきりついた時点でそれ以上押し進めません。robustは、"
    "一部のペアのラベルが逆になっていても対応できます。",
    "training.orpo_lambda.label": "ORPOのラムダ",
    "training.orpo_lambda.help": "選ばれた回答の学習に対する、ORPOの選好項の重みです。論文の値は0.1です。高いほど、"
    "却下された回答から強く遠ざけます。",
    "training.max_prompt_length.label": "プロンプトの最大長(トークン)",
    "training.max_prompt_length.help": "dpoとorpo用です。これより長いプロンプトは末尾のトークンだけを残し、"
    "回答が最大長に収まるようにします。0 = プロンプト独自の上限なし。",
    "training.neftune_noise_alpha.label": "ノイズ(NEFTune)",
    "training.neftune_noise_alpha.help": "学習中に入力へランダムなノイズを加えます(sftのみ)。"
    "自由な質問への回答が良くなることがありますが、すべてのタスクに効くわけではありません。通常は5です。0 = オフ。",
    "training.num_epochs.label": "エポック数",
    "training.num_epochs.help": "学習ですべての例を何周するかです(「最大ステップ数」が0より大きいときは使われません)。",
    "training.max_steps.label": "最大ステップ数",
    "training.max_steps.help": "この回数の学習ステップで停止します。0 = 代わりに「エポック数」を使います。",
    "training.learning_rate.label": "学習率",
    "training.learning_rate.help": "1回の学習ステップでどのくらい大きく更新するかです。"
    "高すぎると損失が大きく上下し、低すぎるとほとんど変わりません。LoRAには1e-4から1e-3が適しています。",
    "training.lr_scheduler.label": "学習率のスケジュール",
    "training.lr_scheduler.help": "ウォームアップの後、学習中に学習率をどのように変えていくかです。",
    "training.warmup_ratio.label": "ウォームアップの割合",
    "training.warmup_ratio.help": "学習の最初に学習率を緩やかに上げていくステップの割合です。",
    "training.batch_size.label": "バッチサイズ",
    "training.batch_size.help": "1ステップでまとめて処理する例の数です(プロセスごと)。"
    "大きいほど1例あたりは速くなりますが、メモリを多く使います。",
    "training.gradient_accumulation.label": "勾配累積",
    "training.gradient_accumulation.help": "アダプターを1回更新するまでに足し合わせるステップ数です。"
    "メモリを増やさずに実質的なバッチを大きくできます。",
    "training.weight_decay.label": "重み減衰",
    "training.weight_decay.help": "アダプターの重みをゼロの方へ緩やかに引き戻します(0 = なし)。",
    "training.max_grad_norm.label": "勾配クリッピング",
    "training.max_grad_norm.help": "学習を安定させるため、1回の更新の大きさに上限を設けます(0 = 上限なし)。",
    "training.seed.label": "シード",
    "training.seed.help": "乱数(アダプターの初期値、シャッフル、評価用の分割)を固定し、"
    "実行をまったく同じように再現できるようにします。",
    "training.gradient_checkpointing.label": "勾配チェックポイント",
    "training.gradient_checkpointing.help": "途中の計算結果を保存せずに計算し直します。メモリは減りますが、"
    "約3分の1遅くなります。",
    "training.fast_dropout.label": "CPUでの高速ドロップアウト",
    "training.fast_dropout.help": "CPUでは、ドロップアウトの乱数を4つずつまとめて生成します。"
    "同じドロップアウトを約半分の時間で行えます。GPUには影響しません。",
    "training.padding_free.label": "パディングなしのバッチ",
    "training.padding_free.help": "autoでは、そのほうが計算が少なくて済むバッチで、"
    "短い行を最長の行に合わせて埋める代わりに、バッチの行をつなげて並べます。"
    "埋め草のトークンに時間を使わないので、損失は同じで、行の長さがばらつくほど速くなります。"
    "モデルのアテンションが行を区別できる場合(ほとんどのモデル)の教師あり学習で使います。neverでは通常どおり埋めます。",
    "training.compile.label": "モデルのコンパイル(torch.compile)",
    "training.compile.help": "コンパイルは小さな演算をまとめて速くしますが、最初のステップの前に数分かかります。"
    "autoは、このマシンで同じ設定のコンパイル済みの実行が、この実行の長さならその時間を取り戻せると示したときだけ"
    "コンパイルします。alwaysは常にコンパイルし(autoの判断材料にもなります)、neverはコンパイルしません。"
    "このベンチマークのCPUでは、コンパイルしたステップはLoRAドロップアウトありで遅く、なしで数分のコンパイル後に1.1倍速くなりました。",
    "training.logging_steps.label": "記録の間隔(ステップ)",
    "training.logging_steps.help": "損失のグラフに点を追加する頻度です。",
    "training.eval_steps.label": "評価の間隔(ステップ)",
    "training.eval_steps.help": "取り分けた例でモデルを測る頻度です(例を取り分けている場合)。",
    "training.save_steps.label": "チェックポイントの間隔(ステップ)",
    "training.save_steps.help": "チェックポイントを保存する頻度です。停止したりクラッシュしたりした実行を、"
    "そこから再開できます。",
    "training.sample_prompts.label": "サンプルプロンプト",
    "training.sample_prompts.help": "チェックポイントごとにモデルが答える質問です。返答の変化を見守れます(1行に1つ。"
    "空欄 = データから2つ取ります)。",
    "training.sample_max_new_tokens.label": "サンプル回答の長さ(トークン)",
    "training.sample_max_new_tokens.help": "サンプル回答の最大の長さ(トークン数)です。",
    "training.sample_every_save.label": "チェックポイントごとにサンプル回答を生成",
    "training.sample_every_save.help": "学習の前、各チェックポイント、学習の終わりにサンプル回答を書き出します。",
    "training.num_processes.label": "プロセス数(GPUごとに1つ)",
    "training.num_processes.help": "複数のプロセスで同時に学習します。GPUごとに1プロセスです(accelerate "
    "launchを使用)。各プロセスが1ステップごとに1バッチ全体を処理します。",
    "training.accelerate_config.label": "Accelerateの設定ファイル",
    "training.accelerate_config.help": "FSDP、DeepSpeed、または複数のマシンで使います。`accelerate "
    "config`が書き出したファイルを指定します。空欄 = 通常のマルチGPU。",
    "training.evaluate_at_end.label": "学習の終了時に評価",
    "training.evaluate_at_end.help": "学習が完了したら、「評価」タブと同じように、"
    "ベースモデルと新しいアダプターを取り分けた行(最大200行)で採点します。"
    "これで「実行履歴」タブにすぐスコアが表示されます。「評価用に取り分ける割合」が0より大きい必要があります。"
    "実行が完了するまでの時間が少し長くなります。",
    "training.report_to.label": "学習曲線の送信先(追加)",
    "training.report_to.help": "ここのグラフに加えて、損失と学習率の曲線をTensorBoard、Trackio、MLflow、Weights & "
    "Biases(wandb)にも送ります。none = ここだけ。ログはこのマシンに残ります(実行フォルダー内。"
    "MLflowはrunsフォルダー内のmlruns/)。W&BはWANDB_API_KEYが設定されている場合にだけアップロードします。"
    "ツールをインストールしておく必要があります: pip install tensorboard (またはtrackio、mlflow、wandb)。",
    # ---- where training.report_to's logs are: the Train tab and the training log (lora_studio/reporting.py)
    "report.tensorboard": "📈 TensorBoardのログ: `{path}` — `{command}`で開けます",
    "report.trackio": "📈 Trackioのログ: `{path}` — `{command}`で開けます",
    "report.mlflow": "📈 `{store}`内のMLflowの実行`{run}` — `{command}`で開けます",
    "report.mlflow_server": "📈 MLflowの実行`{run}`は{store}に送られます(MLFLOW_TRACKING_URIの設定による)",
    "report.wandb": "📈 Weights & Biasesのプロジェクト`{project}`、実行`{run}`(ローカルのコピーは`{path}`)",
    "report.wandb_offline": "📈 Weights & Biases、オフライン({why}): ログは`{path}`にあります — "
    "後で`{command}`でアップロードできます",
    "report.wandb_no_key": "環境変数にWANDB_API_KEYがありません",
    "report.wandb_disabled": "📈 WANDB_MODE=disabledのため、Weights & Biasesはオフです: そこには何も記録されません",
    # ---- generation settings: label and help of every GenerationSettings field (lora_studio/generation_config.py)
    "generation.system_prompt.label": "システムプロンプト",
    "generation.system_prompt.help": "会話の前にモデルへ伝える内容です。例えば、モデルの役割や答え方など(任意)。",
    "generation.max_new_tokens.label": "最大生成トークン数",
    "generation.max_new_tokens.help": "回答の最大の長さ(トークン数)です(英語では、1トークンはおよそ単語の4分の3です)。",
    "generation.temperature.label": "温度",
    "generation.temperature.help": "言葉選びの大胆さです。0 = 貪欲法(常に最も確率の高いトークン)、"
    "高いほど多様になります。",
    "generation.top_p.label": "Top-p",
    "generation.top_p.help": "確率の高いトークンから順に、確率の合計がこの割合になるまでの中からだけ選びます(1 = "
    "すべて)。",
    "generation.top_k.label": "Top-k",
    "generation.top_k.help": "確率の高い上位この数のトークンの中からだけ選びます(0 = オフ)。",
    "generation.repetition_penalty.label": "繰り返しペナルティ",
    "generation.repetition_penalty.help": "すでに書いたトークンを出にくくし、同じ内容を繰り返す回答を防ぎます(1 = "
    "オフ)。",
    "generation.seed.label": "シード",
    "generation.seed.help": "乱数を固定します。同じシードと設定なら同じ回答になります。",
    "playground.settings_title": "生成の設定",
    "playground.setting_problem": "⚠️ **{label}**: {problem}。*生成の設定*で変更してください。",
}
