namespace Research.Model.Data;

/// <summary>
/// Which rows of a sequence belong to a time span. A row [s, e] overlaps the span [start, end] when
/// <c>s &lt; end &amp;&amp; e &gt; start</c>: they share time of positive length, or the row is an instant strictly
/// inside the span. Touching intervals (e = start or s = end) do not overlap, so a frame that ends exactly where a
/// segment begins is not counted in it, and adjacent segments never share a row that merely touches both.
/// </summary>
public static class IntervalOverlap
{
    /// <summary>Whether the row [s, e] overlaps the span [start, end] (see the class summary).</summary>
    public static bool Overlaps(double s, double e, double start, double end) => s < end && e > start;

    /// <summary>Indices, in row order, of the rows of (n, 2) <paramref name="intervals"/> that overlap [start, end].</summary>
    public static int[] Rows(double[,] intervals, double start, double end)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        if (intervals.GetLength(1) != 2)
        {
            throw new ArgumentException($"intervals must be (n, 2), got ({intervals.GetLength(0)}, {intervals.GetLength(1)})");
        }
        var rows = new List<int>();
        for (int i = 0; i < intervals.GetLength(0); i++)
        {
            if (Overlaps(intervals[i, 0], intervals[i, 1], start, end))
            {
                rows.Add(i);
            }
        }
        return rows.ToArray();
    }

    /// <summary>The given rows of (n, d) <paramref name="features"/>, in the given order.</summary>
    public static float[,] Take(float[,] features, int[] rows)
    {
        int d = features.GetLength(1);
        var result = new float[rows.Length, d];
        for (int r = 0; r < rows.Length; r++)
        {
            Buffer.BlockCopy(features, rows[r] * d * sizeof(float), result, r * d * sizeof(float), d * sizeof(float));
        }
        return result;
    }
}
