namespace Research.Model.Training;

/// <summary>Settings of a <see cref="Progress"/> display; the defaults suit a training loop of second-long steps.</summary>
public sealed class ProgressOptions
{
    /// <summary>Where to write (default: the console's standard output).</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Bar or lines (default: decided by whether the output is a terminal).</summary>
    public ProgressMode Mode { get; init; } = ProgressMode.Auto;

    /// <summary>Lines mode: a line every this many steps (also at the last step) ...</summary>
    public int EverySteps { get; init; } = 100;

    /// <summary>... or when this much time has passed since the last line, whichever comes first.</summary>
    public TimeSpan Every { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many recent step times the ETA averages.</summary>
    public int EtaWindow { get; init; } = 50;

    /// <summary>Bar mode: redraw at most this often (fast loops would spend their time printing).</summary>
    public TimeSpan BarRefresh { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Bar mode: the line's maximum width (default: the console's width, less one so it never wraps).</summary>
    public int? Width { get; init; }

    /// <summary>The clock (tests pass their own).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
