namespace Research.Model.Audio;

/// <summary>How filter-bank energies are mean/variance normalised before stacking.</summary>
public enum CmvnMode
{
    /// <summary>Each utterance by its own statistics (<see cref="Cmvn.PerUtterance"/>): needs no corpus statistics.</summary>
    Utterance,

    /// <summary>Not at all.</summary>
    None,

    /// <summary>
    /// Every utterance by one set of statistics (<see cref="CmvnStats"/>) computed on the training split only, so that
    /// held-out, dev and test items are normalised by statistics they did not contribute to.
    /// </summary>
    Global,
}
