module Research.Model.Tests.AttentionMapTests

open System
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Fixtures
open Research.Model.Tests.Tensors
open Research.Model.Models
open Research.Model.Modules

/// A parameter of a module as a float matrix (2-D) or vector (1-D, as n × 1).
let private param (m: torch.nn.Module) (name: string) : float[,] =
    let t = m.state_dict().[name]
    let v = values t

    if t.dim () = 2L then
        Array2D.init (int t.shape[0]) (int t.shape[1]) (fun i j -> float v[i * int t.shape[1] + j])
    else
        Array2D.init v.Length 1 (fun i _ -> float v[i])

/// Rows of item `b` of a (B, T, D) tensor, the first `n` of them, as float arrays.
let private rowsOf (t: torch.Tensor) (b: int) (n: int) : float array array =
    let d = int t.shape[2]
    let v = values (t.narrow (0, int64 b, 1L))
    [| for i in 0 .. n - 1 -> Array.init d (fun j -> float v[i * d + j]) |]

let private affine (w: float[,]) (bias: float[,]) (x: float array) =
    Array.init (w.GetLength 0) (fun o -> bias[o, 0] + Array.fold (+) 0.0 (Array.init x.Length (fun i -> w[o, i] * x[i])))

let private layerNorm (g: float[,]) (bias: float[,]) (x: float array) =
    let mean = Array.average x
    let var = x |> Array.averageBy (fun v -> (v - mean) ** 2.0)
    Array.init x.Length (fun i -> (x[i] - mean) / sqrt (var + 1e-5) * g[i, 0] + bias[i, 0])

/// Sinusoidal position t of dimension d: sin at even, cos at odd indices, rate 10000^(-2i/d).
let private position (t: int) (d: int) =
    Array.init d (fun k ->
        let angle = float t * Math.Pow(10000.0, -float(k - k % 2) / float d)
        if k % 2 = 0 then sin angle else cos angle)

/// Layer 0's attention probabilities of item b, by hand: (heads, audio steps, source steps).
let private handLayer0 (branch: CrossModalTransformer) (heads: int) (audio: float array array) (source: float array array) =
    let p = param branch
    let d = audio[0].Length
    let dh = d / heads

    let embedded =
        source
        |> Array.mapi (fun t s -> Array.map2 (+) (affine (p "source_proj.weight") (p "source_proj.bias") s) (position t d))

    let q =
        audio
        |> Array.map (fun a ->
            affine
                (p "layers.0.cross_attn.q_proj.weight")
                (p "layers.0.cross_attn.q_proj.bias")
                (layerNorm (p "layers.0.norm_query.weight") (p "layers.0.norm_query.bias") a))

    let k =
        embedded
        |> Array.map (fun e ->
            affine
                (p "layers.0.cross_attn.k_proj.weight")
                (p "layers.0.cross_attn.k_proj.bias")
                (layerNorm (p "layers.0.norm_source.weight") (p "layers.0.norm_source.bias") e))

    Array.init heads (fun h ->
        q
        |> Array.map (fun qi ->
            let scores =
                k
                |> Array.map (fun kj ->
                    (Array.init dh (fun x -> qi[h * dh + x] * kj[h * dh + x]) |> Array.sum)
                    / sqrt (float dh))

            let top = Array.max scores
            let e = scores |> Array.map (fun s -> exp (s - top))
            let z = Array.sum e
            e |> Array.map (fun x -> x / z)))

/// The map of item b, head h as (audio steps × source steps) values.
let private mapOf (t: torch.Tensor) (b: int) (h: int) =
    let ta = int t.shape[2]
    let ts = int t.shape[3]
    let v = values (t.narrow(0, int64 b, 1L).narrow(1, int64 h, 1L))
    Array2D.init ta ts (fun i j -> float v[i * ts + j])

[<Tests>]
let tests =
    testSequenced
    <| testList
        "AttentionMaps"
        [
            test "one map per layer and branch, shaped (batch, heads, audio steps, source steps)" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let input = batch (examples 3 tiny [ (7, 5, 4); (4, 9, 2) ])
                let maps = m.Encoder.AttentionMaps input
                Expect.equal maps.Video.Length tiny.CrossModalLayers "video layers"
                Expect.equal maps.Text.Length tiny.CrossModalLayers "text layers"

                for t in maps.Video do
                    Expect.equal t.shape [| 2L; 2L; 7L; 9L |] "video map shape"

                for t in maps.Text do
                    Expect.equal t.shape [| 2L; 2L; 7L; 4L |] "text map shape"
            }

            test "rows of valid audio steps sum to 1 over valid source steps; padded keys and padded audio rows are 0" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let lengths = [ (7, 5, 4); (4, 9, 2) ]
                let maps = m.Encoder.AttentionMaps(batch (examples 3 tiny lengths))

                let check (name: string) (layers: torch.Tensor array) (sourceLength: int * int * int -> int) =
                    for l, t in Array.indexed layers do
                        for b, (ta, _, _ as item) in List.indexed lengths do
                            let ts = sourceLength item

                            for h in 0..1 do
                                let w = mapOf t b h

                                for i in 0 .. w.GetLength 0 - 1 do
                                    let row = [| for j in 0 .. w.GetLength 1 - 1 -> w[i, j] |]

                                    if i < ta then
                                        Expect.floatClose
                                            { absolute = 1e-5; relative = 0.0 }
                                            (Array.sum row[.. ts - 1])
                                            1.0
                                            $"{name} layer {l} item {b} row {i} sums to 1"

                                        Expect.isTrue (row[ts..] |> Array.forall ((=) 0.0)) $"{name} padded keys are 0"
                                    else
                                        Expect.isTrue (row |> Array.forall ((=) 0.0)) $"{name} padded audio row {i} is 0"

                check "video" maps.Video (fun (_, v, _) -> v)
                check "text" maps.Text (fun (_, _, t) -> t)
            }

            test "layer 0 equals a hand computation (layer norms, projections, positions, per-head softmax)" {
                use _ = torch.NewDisposeScope()
                let m = model 4L tiny
                let xs = examples 5 tiny [ (6, 4, 3); (3, 6, 5) ]
                let input = batch xs
                let maps = m.Encoder.AttentionMaps input
                let audio = m.Encoder.Audio.forward (input.Audio.Features, input.Audio.Padding)

                for b, x in List.indexed xs do
                    let ta = x.Audio.GetLength 0
                    let a = rowsOf audio b ta

                    let cases =
                        [
                            "video", m.Encoder.Video, x.Video, maps.Video[0]
                            "text", m.Encoder.Text, x.Text, maps.Text[0]
                        ]

                    for name, branch, src, map in cases do
                        let source =
                            [|
                                for t in 0 .. src.GetLength 0 - 1 -> Array.init (src.GetLength 1) (fun j -> float src[t, j])
                            |]

                        let expected = handLayer0 branch tiny.Heads a source

                        for h in 0 .. tiny.Heads - 1 do
                            let got = mapOf map b h

                            for i in 0 .. ta - 1 do
                                for j in 0 .. source.Length - 1 do
                                    let want = expected.[h].[i].[j]

                                    Expect.floatClose
                                        { absolute = 1e-5; relative = 1e-4 }
                                        got.[i, j]
                                        want
                                        $"{name} item {b} head {h} [{i}, {j}]"
            }

            test "every layer's map of an item is the same alone and batched with longer items" {
                use _ = torch.NewDisposeScope()
                let m = model 2L tiny
                let xs = examples 8 tiny [ (9, 8, 6); (5, 3, 2); (7, 6, 7) ]
                let together = m.Encoder.AttentionMaps(batch xs)
                let alone = m.Encoder.AttentionMaps(batch [ xs[1] ])

                for name, all, one, ts in
                    [
                        "video", together.Video, alone.Video, 3L
                        "text", together.Text, alone.Text, 2L
                    ] do
                    for l in 0 .. all.Length - 1 do
                        let cropped = all[l].narrow(0, 1L, 1L).narrow(2, 0L, 5L).narrow(3, 0L, ts)
                        Expect.isLessThan (maxAbsDiff cropped one[l]) 1e-5 $"{name} layer {l}"
            }

            test "the maps are the probabilities forward uses: P·V through the output projection gives forward's output" {
                use _ = torch.NewDisposeScope()
                torch.manual_seed 3L |> ignore
                let mha = new MultiHeadAttention("mha", 16L, 4L, 0.0)
                mha.eval ()
                let query = torch.randn (2L, 5L, 16L)
                let memory = torch.randn (2L, 7L, 16L)
                let attend = Masks.FromKeyPadding(Masks.PaddingFromLengths([| 7L; 4L |], 7L))
                let p = mha.Weights(query, memory, attend) // (B, H, Tq, Tk)
                let sd = mha.state_dict ()

                let v =
                    (torch.nn.functional.linear (memory, sd["v_proj.weight"], sd["v_proj.bias"])).view(2L, 7L, 4L, 4L).transpose(1L, 2L)

                let merged = torch.matmul(p, v).transpose(1L, 2L).reshape(2L, 5L, 16L)

                let rebuilt =
                    torch.nn.functional.linear (merged, sd["out_proj.weight"], sd["out_proj.bias"])

                Expect.isLessThan (maxAbsDiff rebuilt (mha.forward (query, memory, attend))) 1e-5 "same output"
            }

            test "a branch whose input the batch lacks has no maps; a built branch with weight 0 still has them" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let input = batch (examples 3 tiny [ (5, 4, 3) ])
                let noVideo = m.Encoder.AttentionMaps(EncoderInput(input.Audio, null, input.Text))
                Expect.isNull noVideo.Video "no video input, no video maps"
                Expect.isNotNull noVideo.Text "text maps"
                m.Encoder.Weights <- ModalityWeights(0.4, 0.0, 0.2)
                Expect.isNotNull (m.Encoder.AttentionMaps input).Video "weight 0, branch built"
            }

            test "an item without source frames is an error naming the modality and the item" {
                use _ = torch.NewDisposeScope()
                let m = model 1L tiny
                let input = batch (examples 3 tiny [ (5, 4, 3); (5, 4, 3) ])
                let padding = input.Video.Padding.clone ()
                padding[1] <- torch.tensor true
                let video = Sequence(input.Video.Features, padding)

                let e =
                    Expect.throwsC (fun () -> m.Encoder.AttentionMaps(EncoderInput(input.Audio, video, input.Text)) |> ignore) id

                Expect.stringContains e.Message "video: item(s) 1" "names modality and item"
            }
        ]
