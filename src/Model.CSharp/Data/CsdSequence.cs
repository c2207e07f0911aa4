namespace Research.Model.Data;

/// <summary>
/// One video of a computational sequence (CMU-MultimodalSDK <c>.csd</c>): row i of <see cref="Features"/> covers the
/// time span row i of <see cref="Intervals"/> gives (start, end in seconds).
/// </summary>
/// <param name="Features">(n, d) feature rows.</param>
/// <param name="Intervals">(n, 2) start and end of each row, in seconds.</param>
public sealed record CsdSequence(float[,] Features, double[,] Intervals)
{
    /// <summary>Number of rows n.</summary>
    public int Rows => Features.GetLength(0);

    /// <summary>Feature dimension d.</summary>
    public int Dimension => Features.GetLength(1);

    /// <summary>Start of row <paramref name="row"/>, in seconds.</summary>
    public double Start(int row) => Intervals[row, 0];

    /// <summary>End of row <paramref name="row"/>, in seconds.</summary>
    public double End(int row) => Intervals[row, 1];

    /// <summary>
    /// Throws unless intervals are (n, 2) with the features' n rows and every interval is finite with start ≤ end;
    /// <paramref name="where"/> (file, root, video) starts the message.
    /// </summary>
    public void Validate(string where)
    {
        ArgumentNullException.ThrowIfNull(Features);
        ArgumentNullException.ThrowIfNull(Intervals);
        if (Intervals.GetLength(1) != 2)
        {
            throw new ArgumentException($"{where}: intervals must be (n, 2), got ({Intervals.GetLength(0)}, {Intervals.GetLength(1)})");
        }
        if (Intervals.GetLength(0) != Rows)
        {
            throw new ArgumentException($"{where}: features have {Rows} rows but intervals have {Intervals.GetLength(0)}");
        }
        int bad = FirstBadInterval(Intervals);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"{where}: interval of row {bad} is [{Intervals[bad, 0]}, {Intervals[bad, 1]}]; expected finite start <= end"
            );
        }
    }

    /// <summary>The first row whose interval is not finite or has start &gt; end, or -1.</summary>
    internal static int FirstBadInterval(double[,] intervals)
    {
        for (int i = 0; i < intervals.GetLength(0); i++)
        {
            double s = intervals[i, 0],
                e = intervals[i, 1];
            if (!double.IsFinite(s) || !double.IsFinite(e) || s > e)
            {
                return i;
            }
        }
        return -1;
    }
}
