module Research.Model.Tests.ParallelDropoutTests

open System
open Expecto
open TorchSharp
open Research.Model
open Research.Model.Tests.Tensors
open Research.Model.Modules
open Research.Model.Runtime

let private mask (seed: int64) (n: int64) (p: float) =
    torch.manual_seed seed |> ignore
    ParallelDropout.ScaledMask([| n |], p, torch.float32, torch.CPU)

[<Tests>]
let tests =
    testList
        "ParallelDropout"
        [
            test "eval mode and p = 0 leave the input as it is" {
                use _ = torch.NewDisposeScope()
                let x = torch.randn (4L, 5L)
                let d = new ParallelDropout("d", 0.3)
                d.eval ()
                Expect.equal (maxAbsDiff (d.forward x) x) 0.0 "eval: identity"
                let zero = new ParallelDropout("d", 0.0)
                zero.train ()
                Expect.equal (maxAbsDiff (zero.forward x) x) 0.0 "p = 0: identity"
            }

            test "a million elements: values 0 or 1/(1-p), dropped at rate p, mean 1" {
                use _ = torch.NewDisposeScope()
                let p = 0.1
                let m = values (mask 3L 1_000_000L p)
                let keep = float32 (1.0 / (1.0 - p))

                Expect.all m (fun v -> v = 0.0f || v = keep) "only 0 and 1/(1-p)"
                let dropped = m |> Array.filter (fun v -> v = 0.0f) |> Array.length |> float
                let sigma = sqrt (p * (1.0 - p) / 1e6)
                Expect.isLessThan (abs (dropped / 1e6 - p)) (5.0 * sigma) "dropped fraction within 5 sigma of p"
                Expect.isLessThan (abs (Array.averageBy float m - 1.0)) 0.002 "the mean is kept"
            }

            test "neighbours are independent: both dropped at rate p^2, for pairs inside and across 64-bit draws" {
                use _ = torch.NewDisposeScope()
                let p = 0.3
                let m = values (mask 5L 1_000_000L p)

                for offset, what in [ 0, "same draw"; 1, "adjacent draws" ] do
                    let pairs = (m.Length - offset) / 2

                    let both =
                        Seq.init pairs (fun k -> m[offset + 2 * k] = 0.0f && m[offset + 2 * k + 1] = 0.0f)
                        |> Seq.filter id
                        |> Seq.length
                        |> float

                    let expected = p * p
                    let sigma = sqrt (expected * (1.0 - expected) / float pairs)
                    Expect.isLessThan (abs (both / float pairs - expected)) (5.0 * sigma) what
            }

            test "torch's seed decides the mask, whatever the thread count" {
                use _ = torch.NewDisposeScope()
                let a = values (mask 11L 100_001L 0.2)
                let b = values (mask 11L 100_001L 0.2)
                let c = values (mask 12L 100_001L 0.2)
                Expect.equal a b "same seed, same mask"
                Expect.notEqual a c "another seed, another mask"

                if Environment.ProcessorCount > 1 then
                    try
                        TorchRuntime.Initialize 1
                        Expect.equal (values (mask 11L 100_001L 0.2)) a "one thread, same mask"
                    finally
                        TorchRuntime.Initialize()
            }

            // 1,007 = 125·8 + 7 elements: the last 7 come from the scalar loop, while in a mask of 1,015 elements the
            // same indices are in the last 8-lane vector; a mask is a function of the seed and the element's index.
            test "the vectorised and the scalar generator give the same values" {
                use _ = torch.NewDisposeScope()
                let longer = values (mask 13L 1_015L 0.5)
                let shorter = values (mask 13L 1_007L 0.5)
                Expect.equal shorter longer[..1_006] "the same prefix"
                let tail = shorter[1_000..]
                Expect.isTrue (Array.contains 0.0f tail && Array.contains 2.0f tail) "the tail has both values"
            }

            test "the gradient is the mask" {
                use _ = torch.NewDisposeScope()
                let d = new ParallelDropout("d", 0.25)
                d.train ()
                let x = torch.randn ([| 3L; 50L |], requires_grad = true)
                torch.manual_seed 4L |> ignore
                let y = d.forward x
                y.sum().backward()
                let m = values (x.grad)
                let keep = float32 (1.0 / 0.75)
                Expect.all m (fun v -> v = 0.0f || abs (v - keep) < 1e-6f) "gradient 0 or 1/(1-p)"
                Expect.floatClose Accuracy.high (maxAbsDiff y (x.detach () * x.grad)) 0.0 "output = input times the mask"
            }

            test "UseTorchDropout falls back to libtorch's dropout" {
                use _ = torch.NewDisposeScope()
                let d = new ParallelDropout("d", 0.5, UseTorchDropout = true)
                d.train ()
                let y = values (d.forward (torch.ones (1000L)))
                Expect.all y (fun v -> v = 0.0f || v = 2.0f) "0 or 2"
                Expect.isTrue (Array.contains 0.0f y && Array.contains 2.0f y) "both occur"
            }
        ]
