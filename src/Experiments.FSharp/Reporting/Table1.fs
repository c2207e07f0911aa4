/// Table 1 of the paper: baselines on CMU-MOSEI (the published systems, then our late fusion and TF).
module Research.Experiments.Table1

open Research.Experiments.Protocol
open Research.Experiments.TableFormat

/// The paper's Table 1 (baselines and published systems on CMU-MOSEI), as printed.
let paper =
    [
        reference
            "M-ELMo + NN [10] (A+T)"
            [
                67.0
                65.2
                63.1
                72.0
                65.8
                74.7
                63.8
                83.3
                74.2
                81.7
                63.2
                85.1
                66.2
                77.0
            ]
        reference
            "Graph-MFN [21]"
            [
                66.3
                66.3
                60.4
                66.9
                62.6
                72.8
                53.7
                85.5
                69.1
                76.6
                62.0
                89.9
                62.3
                76.3
            ]
        reference
            "CIM-Att-STL [15]"
            [
                53.6
                67.0
                61.4
                72.4
                66.8
                75.9
                60.6
                86.0
                72.7
                81.9
                62.2
                87.9
                62.8
                78.6
            ]
        reference
            "Late Fusion"
            [
                66.2
                66.3
                63.7
                71.8
                66.2
                73.6
                62.2
                87.8
                74.1
                83.3
                62.3
                86.6
                65.8
                78.2
            ]
        reference
            "TF"
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
    ]

/// Table 1: the paper's rows, then our late fusion and TF.
let build (r: Results) =
    emotionTable
        "table1"
        "Table 1: Baseline results. TF is the transformer-based model"
        paper
        [ lateFusionKey, "Late Fusion"; scratchKey, "TF" ]
        r
