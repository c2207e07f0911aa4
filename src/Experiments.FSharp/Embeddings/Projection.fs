/// Principal component analysis of embeddings, for 2-D pictures of them.
module Research.Experiments.Projection

open System
open MathNet.Numerics.LinearAlgebra

/// A fitted PCA: x ↦ Components · (x − Mean).
type Pca =
    {
        /// Column means of the data (d).
        Mean: float array
        /// Principal axes, unit length, by decreasing variance (k × d). Sign rule: each axis's entry of largest
        /// magnitude is positive, so the same data always gives the same picture.
        Components: float array array
        /// Variance along each axis (eigenvalues of the covariance, divisor n − 1).
        Variance: float array
        /// Share of the total variance along each axis.
        VarianceRatio: float array
    }

/// Fits k principal axes to the rows of `data` (n × d, n ≥ 2, k ≤ d) through the eigen-decomposition of the d × d
/// covariance: O(n·d²), no n × n matrix, so tens of thousands of 512-d embeddings are quick.
let fit (k: int) (data: float32[,]) : Pca =
    let n = data.GetLength 0
    let d = data.GetLength 1

    if n < 2 then
        invalidArg "data" $"PCA needs at least 2 rows, got {n}"

    if k < 1 || k > d then
        invalidArg "k" $"k must be in 1..{d} (the data's columns), got {k}"

    let x = Matrix<float>.Build.Dense(n, d, fun i j -> float data[i, j])

    for j in 0 .. d - 1 do
        let c = x.Column j

        if c |> Seq.exists (fun v -> Double.IsNaN v || Double.IsInfinity v) then
            let i = c |> Seq.findIndex (fun v -> Double.IsNaN v || Double.IsInfinity v)
            invalidArg "data" $"row {i}, column {j} is not finite ({c[i]})"

    let mean = Array.init d (fun j -> x.Column(j).Sum() / float n)
    let centred = x - Matrix<float>.Build.Dense(n, d, fun _ j -> mean[j])
    let covariance = centred.TransposeThisAndMultiply(centred) / float (n - 1)
    let evd = covariance.Evd(Symmetricity.Symmetric)
    let values = evd.EigenValues |> Seq.map (fun c -> c.Real) |> Array.ofSeq
    let order = [| 0 .. d - 1 |] |> Array.sortBy (fun i -> -values[i], i)
    let total = values |> Array.sumBy (max 0.0)

    let axis (i: int) =
        let v = evd.EigenVectors.Column(i).ToArray()
        let big = v |> Array.maxBy abs
        if big < 0.0 then Array.map (fun x -> -x) v else v

    let chosen = order |> Array.take k

    {
        Mean = mean
        Components = chosen |> Array.map axis
        Variance = chosen |> Array.map (fun i -> max 0.0 values[i])
        VarianceRatio =
            chosen
            |> Array.map (fun i -> if total > 0.0 then max 0.0 values[i] / total else 0.0)
    }

/// The rows of `data` (n × d) in the PCA's axes (n × k).
let transform (pca: Pca) (data: float32[,]) : float[,] =
    let d = pca.Mean.Length

    if data.GetLength 1 <> d then
        invalidArg "data" $"data has {data.GetLength 1} columns; the PCA was fitted on {d}"

    Array2D.init (data.GetLength 0) pca.Components.Length (fun i c ->
        let axis = pca.Components[c]
        let mutable s = 0.0

        for j in 0 .. d - 1 do
            s <- s + (float data[i, j] - pca.Mean[j]) * axis[j]

        s)

/// Fits two axes and returns each row's coordinates, with the PCA (for its variance ratios).
let project2d (data: float32[,]) =
    let pca = fit 2 data
    let xy = transform pca data
    [| for i in 0 .. xy.GetLength 0 - 1 -> xy[i, 0], xy[i, 1] |], pca
