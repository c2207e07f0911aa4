module Research.Model.Tests.ProjectionTests

open System
open Expecto
open Research.Experiments

[<Tests>]
let tests =
    testList
        "Projection"
        [
            test "2-D data: axes and variances are the closed-form eigen-decomposition of the covariance" {
                // Points with covariance [[a, b], [b, c]] exactly: a 2 × 2 symmetric eigenproblem has a closed form.
                let data =
                    array2D
                        [
                            [ 3.0f; 1.0f ]
                            [ 1.0f; 2.0f ]
                            [ -1.0f; 0.0f ]
                            [ 0.0f; -2.0f ]
                            [ 2.0f; 3.0f ]
                            [ -5.0f; -4.0f ]
                        ]

                let n = float (data.GetLength 0)

                let col j =
                    [| for i in 0 .. data.GetLength 0 - 1 -> float data[i, j] |]

                let mx, my = Array.average (col 0), Array.average (col 1)

                let cov u v =
                    Array.map2 (fun x y -> x * y) u v |> Array.sum |> fun s -> s / (n - 1.0)

                let cx = col 0 |> Array.map (fun x -> x - mx)
                let cy = col 1 |> Array.map (fun y -> y - my)
                let a, b, c = cov cx cx, cov cx cy, cov cy cy
                let root = sqrt (((a - c) / 2.0) ** 2.0 + b * b)
                let l1, l2 = (a + c) / 2.0 + root, (a + c) / 2.0 - root
                // eigenvector of l1: (b, l1 - a), normalised, largest entry positive
                let norm = sqrt (b * b + (l1 - a) ** 2.0)
                let v = [| b / norm; (l1 - a) / norm |]

                let v =
                    if abs v[0] >= abs v[1] && v[0] < 0.0 || abs v[1] > abs v[0] && v[1] < 0.0 then
                        Array.map (~-) v
                    else
                        v

                let pca = Projection.fit 2 data
                Expect.floatClose Accuracy.high pca.Variance[0] l1 "first variance"
                Expect.floatClose Accuracy.high pca.Variance[1] l2 "second variance"
                Expect.floatClose Accuracy.high pca.VarianceRatio[0] (l1 / (l1 + l2)) "ratio"
                let axis = pca.Components[0]
                Expect.floatClose Accuracy.high axis[0] v[0] "axis x"
                Expect.floatClose Accuracy.high axis[1] v[1] "axis y"
                Expect.floatClose Accuracy.high pca.Mean[0] mx "mean"
            }

            test "scores are centred, uncorrelated, with the axes' variances; a line in 5-D has one axis" {
                let rng = Random 3
                let dir = [| 1.0; -2.0; 0.5; 3.0; 0.0 |]
                let len = sqrt (dir |> Array.sumBy (fun x -> x * x))

                let ts = Array.init 200 (fun i -> float (i % 37) - 18.0 + rng.NextDouble())

                let data =
                    Array2D.init 200 5 (fun i j -> float32 (10.0 + ts[i] * dir[j] + 1e-3 * (rng.NextDouble() - 0.5)))

                let xy, pca = Projection.project2d data
                Expect.isGreaterThan pca.VarianceRatio[0] 0.99999 "one axis carries the variance"
                let expected = dir |> Array.map (fun x -> x / len)

                let cosine =
                    Array.map2 (fun a b -> a * b) expected pca.Components[0] |> Array.sum |> abs

                Expect.floatClose { absolute = 1e-6; relative = 1e-6 } cosine 1.0 "along the line"
                Expect.isGreaterThan (pca.Components[0] |> Array.maxBy abs) 0.0 "sign rule: largest entry positive"
                let xs = xy |> Array.map fst
                let ys = xy |> Array.map snd
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } (Array.average xs) 0.0 "centred"

                let var (u: float array) =
                    (u |> Array.sumBy (fun x -> x * x)) / float (u.Length - 1)

                Expect.floatClose { absolute = 1e-6; relative = 1e-6 } (var xs) pca.Variance[0] "variance of the scores"
                let corr = Array.map2 (*) xs ys |> Array.sum
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } corr 0.0 "uncorrelated"
            }

            test "bad input: too few rows, k out of range, non-finite values, other widths" {
                Expect.throwsT<ArgumentException> (fun () -> Projection.fit 1 (Array2D.zeroCreate 1 3) |> ignore) "one row"
                Expect.throwsT<ArgumentException> (fun () -> Projection.fit 4 (Array2D.zeroCreate 5 3) |> ignore) "k > d"
                let bad = Array2D.create 4 2 1.0f
                bad[2, 1] <- nanf

                let e = Expect.throwsC (fun () -> Projection.fit 1 bad |> ignore) id

                Expect.stringContains e.Message "row 2, column 1" "names the cell"
                let pca = Projection.fit 1 (Array2D.init 4 2 (fun i j -> float32 (i * j)))

                Expect.throwsT<ArgumentException> (fun () -> Projection.transform pca (Array2D.zeroCreate 2 3) |> ignore) "other width"
            }
        ]
