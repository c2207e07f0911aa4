namespace Research.Model.Training;

/// <summary>How <see cref="Progress"/> shows itself.</summary>
public enum ProgressMode
{
    /// <summary><see cref="Bar"/> when writing to a console whose output is not redirected, else <see cref="Lines"/>.</summary>
    Auto,

    /// <summary>One line redrawn in place (carriage return), for terminals.</summary>
    Bar,

    /// <summary>Plain lines every N steps or T seconds, for logs and redirected output.</summary>
    Lines,
}
