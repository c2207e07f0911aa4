module Research.Model.Tests.FusedSublayersTests

open Expecto
open TorchSharp
open Research.Model.Modules

let private maxDifference (a: torch.Tensor) (b: torch.Tensor) = (a - b).abs().max().item<float32>()

/// One layer's output, parameter gradients and input gradients in training mode, with its modules op by op or as
/// FusedSublayers; the same seed before each run, so both draw the same dropout masks. The loss weights every output
/// element differently (a plain sum would hide errors that sum to zero over a row).
let private compare
    (name: string)
    (layer: torch.nn.Module)
    (setFused: bool -> unit)
    (inputs: torch.Tensor list)
    (run: unit -> torch.Tensor)
    =
    layer.train ()

    let result fused =
        setFused fused
        layer.zero_grad ()

        for t in inputs do
            t.grad <- null

        torch.manual_seed 11L |> ignore
        let y = run ()
        use generator = new torch.Generator(3UL)
        let weights = torch.randn (y.shape, generator = generator)
        (y * weights).sum().backward()

        y.detach().clone(), [ for struct (n, p) in layer.named_parameters () -> n, p.grad.clone () ], [ for t in inputs -> t.grad.clone () ]

    let y0, g0, i0 = result false
    let y1, g1, i1 = result true
    Expect.isLessThan (maxDifference y0 y1) 1e-5f $"{name}: output"
    Expect.isGreaterThan (y0.abs().max().item<float32>()) 0.5f $"{name}: a non-trivial output"

    for (n, a), (_, b) in List.zip g0 g1 do
        Expect.isLessThan (maxDifference a b) 1e-5f $"{name}: gradient of {n}"
        // The key projections' biases get none in exact arithmetic (softmax ignores a shift shared by a query's scores).
        if not (n.EndsWith "k_proj.bias") then
            Expect.isGreaterThan (a.abs().max().item<float32>()) 1e-3f $"{name}: {n} has a gradient"

    for i, (a, b) in List.indexed (List.zip i0 i1) do
        Expect.isLessThan (maxDifference a b) 1e-5f $"{name}: gradient of input {i}"

/// The three layer kinds at a size (batch, query steps, source steps, d, heads, inner, dropout).
let private layers (b: int64) (tq: int64) (ts: int64) (d: int64) (heads: int64) (inner: int64) (p: float) =
    use _ = torch.NewDisposeScope()
    torch.manual_seed 5L |> ignore
    let x = torch.randn([| b; tq; d |]).requires_grad_(true)
    let source = torch.randn([| b; ts; d |]).requires_grad_(true)
    // Every item's last two query steps and last source step are padding (masked as keys).
    let padding (t: int64) =
        torch.arange(t).ge(torch.tensor (t - 2L)).unsqueeze(0).expand(b, -1L).contiguous()

    let queryAttend = Masks.FromKeyPadding(padding tq)
    let sourceAttend = Masks.FromKeyPadding(padding ts)
    let encoder = new EncoderLayer("encoder", d, heads, inner, p)

    compare $"encoder layer, dropout {p}" encoder (fun on -> encoder.UseFusedSublayers <- on) [ x ] (fun () ->
        encoder.forward (x, queryAttend))

    let cross = new CrossModalLayer("cross", d, heads, inner, p)

    compare $"cross-modal layer, dropout {p}" cross (fun on -> cross.UseFusedSublayers <- on) [ x; source ] (fun () ->
        cross.forward (x, source, sourceAttend))

    let decoder = new DecoderLayer("decoder", d, heads, inner, p)
    // The decoder's queries are the characters (causal self-attention); its memory is the encoder output, as is.
    compare $"decoder layer, dropout {p}" decoder (fun on -> decoder.UseFusedSublayers <- on) [ source; x ] (fun () ->
        decoder.forward (source, x, Masks.Causal(ts, torch.CPU), queryAttend))

[<Tests>]
let tests =
    testSequenced
    <| testList
        "FusedSublayers"
        [
            test "each layer kind computes its modules' output and gradients, with and without dropout (widths no multiple of 8)" {
                for p in [ 0.0; 0.1; 0.3 ] do
                    layers 3L 7L 5L 36L 4L 44L p
            }

            test "the same at two threads, on rows enough for several parallel chunks, and key counts no multiple of 8" {
                let threads = torch.get_num_threads ()

                try
                    torch.set_num_threads 2
                    layers 4L 83L 13L 64L 4L 96L 0.1
                finally
                    torch.set_num_threads threads
            }

            test "eval mode takes the modules' path: no dropout" {
                // Were the fused node used in eval mode, it would apply its dropout (0.3) and differ.
                use _ = torch.NewDisposeScope()
                let layer = new EncoderLayer("encoder", 16L, 2L, 24L, 0.3)
                let x = torch.randn([| 2L; 5L; 16L |]).requires_grad_(true)

                let attend =
                    Masks.FromKeyPadding(torch.zeros ([| 2L; 5L |], dtype = torch.ScalarType.Bool))

                layer.eval ()
                layer.UseFusedSublayers <- true
                let evaluated = layer.forward (x, attend)
                layer.UseFusedSublayers <- false
                let reference = layer.forward (x, attend)
                Expect.isLessThan (maxDifference evaluated reference) 1e-6f "eval mode: the same output"
            }
        ]
