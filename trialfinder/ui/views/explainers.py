"""Explainers: plain-language pages about the treatments, staging and the words trials use."""

from __future__ import annotations

import streamlit as st

from trialfinder import explainers

K_TOPIC = "e_topic"


def render() -> None:
    st.title("Explainers")
    st.caption(
        "General information in plain words, with sources. It is not advice about your own care: "
        "talk to your care team."
    )
    names = list(explainers.EXPLAINERS)
    if K_TOPIC not in st.session_state:
        wanted = st.query_params.get("topic")
        st.session_state[K_TOPIC] = wanted if wanted in names else names[0]
        if wanted and wanted not in names:
            st.warning(
                "The link asks for a topic this page does not have; showing the first one.",
                icon=":material/link_off:",
            )
    topic = st.segmented_control(
        "Topic",
        names,
        key=K_TOPIC,
        format_func=lambda n: explainers.EXPLAINERS[n],
        required=True,
        label_visibility="collapsed",
    )
    name = topic if topic in names else names[0]
    if st.query_params.get("topic") != name:
        st.query_params["topic"] = name
    e = explainers.load(name)
    st.header(e.title)
    # our own reviewed markdown (not registry text), rendered as written
    st.markdown(e.body)
