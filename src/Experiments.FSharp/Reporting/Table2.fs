/// Table 2 of the paper: the TF baseline against the transformer fine-tuned from the multi-task pre-trained encoder.
module Research.Experiments.Table2

open Research.Experiments.Protocol
open Research.Experiments.TableFormat

/// The paper's Table 2 (embeddings learned on VoxCeleb2, fine-tuned on CMU-MOSEI).
let paper =
    [
        reference
            "Baseline"
            [
                67.8
                67.5
                63.9
                72.9
                66.8
                74.5
                60.6
                88.0
                74.8
                82.3
                64.4
                86.1
                66.4
                78.5
            ]
        reference
            "Embeddings from the Multi-task model"
            [
                67.5
                67.7
                65.4
                71.3
                67.0
                75.8
                63.9
                87.8
                74.9
                83.4
                64.2
                86.9
                67.1
                78.8
            ]
    ]

/// Table 2: the TF baseline against the transformer fine-tuned from the multi-task pre-trained encoder.
let build (r: Results) =
    emotionTable
        "table2"
        "Table 2: Weighted accuracy and F1-score with embeddings learned by multi-task pre-training"
        paper
        [
            scratchKey, "Baseline"
            pretrainedKey, "Embeddings from the Multi-task model"
        ]
        r
