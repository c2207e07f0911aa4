module Research.Model.Tests.MultiHeadAttentionTests

open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Tensors
open Research.Model.Modules

/// Output, input gradients and parameter gradients of one attention block (dropout off) with the projections fused or
/// separate; the same seed gives the same weights and inputs both times.
let private run (fused: bool) (self: bool) =
    torch.manual_seed 7L |> ignore
    let mha = new MultiHeadAttention("attention", 16L, 4L, 0.0)
    mha.FuseProjections <- fused
    let query = torch.randn ([| 3L; 5L; 16L |], requires_grad = true)

    let memory =
        if self then
            query
        else
            torch.randn ([| 3L; 7L; 16L |], requires_grad = true)

    let length = memory.shape[1]

    let attend =
        Masks.FromKeyPadding(Masks.PaddingFromLengths([| length; length - 2L; 1L |], length))

    let output = mha.forward (query, memory, attend)
    let weights = torch.randn (output.shape)
    (output * weights).sum().backward()

    [
        yield "output", output
        yield "query gradient", query.grad
        if not self then
            yield "memory gradient", memory.grad
        for struct (name, p) in mha.named_parameters () do
            yield name, p.grad
    ]

let private same (self: bool) =
    let separate = run false self
    let fused = run true self
    Expect.equal (List.map fst fused) (List.map fst separate) "the same tensors"

    for (name, a), (_, b) in List.zip separate fused do
        Expect.isLessThan (maxAbsDiff a b) 1e-5 $"{name}: fused projections give the same numbers"

/// Output, input and parameter gradients of the training path (weights' dropout 0.3) with the scores masked by
/// masked_fill (true) or by adding Masks.Additive (false): key padding and, for self-attention, causal order too.
let private maskedBy (maskedFill: bool) (self: bool) =
    let before = Masks.UseMaskedFill

    try
        Masks.UseMaskedFill <- maskedFill
        torch.manual_seed 9L |> ignore
        let mha = new MultiHeadAttention("attention", 16L, 4L, 0.3)
        mha.train ()
        let query = torch.randn ([| 3L; 6L; 16L |], requires_grad = true)

        let memory =
            if self then
                query
            else
                torch.randn ([| 3L; 7L; 16L |], requires_grad = true)

        let length = memory.shape[1]

        let keys =
            Masks.FromKeyPadding(Masks.PaddingFromLengths([| length; length - 2L; 1L |], length))

        let attend =
            if self then
                keys.logical_and (Masks.Causal(length, torch.CPU))
            else
                keys

        let output = mha.forward (query, memory, attend)
        (output * torch.randn (output.shape)).sum().backward()
        let padded = torch.randn ([| 3L; 6L; 16L |], requires_grad = true)

        let zeroed =
            Pooling.ZeroPadding(padded, Masks.PaddingFromLengths([| 6L; 2L; 0L |], 6L))

        (zeroed * torch.randn (zeroed.shape)).sum().backward()

        [
            yield "output", output
            yield "query gradient", query.grad
            if not self then
                yield "memory gradient", memory.grad
            for struct (name, p) in mha.named_parameters () do
                yield name, p.grad
            yield "zeroed padding", zeroed
            yield "zeroed padding's gradient", padded.grad
        ]
    finally
        Masks.UseMaskedFill <- before

[<Tests>]
let tests =
    testList
        "MultiHeadAttention"
        [
            test "fused q/k/v projections of self-attention give the same output and gradients" { same true }
            test "fused k/v projections of cross-attention give the same output and gradients" { same false }

            test "the written-out training path computes the same attention as scaled_dot_product_attention" {
                use _ = torch.NewDisposeScope()
                // p = 1e-9 rounds to keeping every element, so training mode differs from eval mode only in the path.
                let mha = new MultiHeadAttention("attention", 16L, 4L, 1e-9)
                let query = torch.randn ([| 3L; 5L; 16L |])
                let memory = torch.randn ([| 3L; 7L; 16L |])
                let attend = Masks.FromKeyPadding(Masks.PaddingFromLengths([| 7L; 4L; 1L |], 7L))
                mha.train ()
                let written = mha.forward (query, memory, attend)
                mha.eval ()
                let fused = mha.forward (query, memory, attend)
                Expect.isLessThan (maxAbsDiff written fused) 1e-5 "same output"
            }

            test "masking scores by adding 0/−∞, and padding by a 0/1 product, gives masked_fill's numbers bit for bit" {
                use _ = torch.NewDisposeScope()

                for self in [ true; false ] do
                    let filled = maskedBy true self
                    let added = maskedBy false self
                    Expect.equal (List.map fst added) (List.map fst filled) "the same tensors"

                    for (name, a), (_, b) in List.zip filled added do
                        Expect.isGreaterThan (a.abs().max().item<float32>()) 0.0f $"{name}: not trivially zero"
                        Expect.isTrue ((a.eq b).all().item<bool>()) $"self-attention {self}, {name}: the same bits"
            }

            test "fusing changes neither the parameters nor their names" {
                let names (fused: bool) =
                    let mha = new MultiHeadAttention("attention", 8L, 2L, 0.0)
                    mha.FuseProjections <- fused

                    mha.named_parameters ()
                    |> Seq.map (fun struct (n, p) -> n, List.ofArray p.shape)
                    |> List.ofSeq

                Expect.equal (names true) (names false) "same parameters"
            }
        ]
