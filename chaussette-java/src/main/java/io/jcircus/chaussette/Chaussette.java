package io.jcircus.chaussette; public final class Chaussette { public static void main(String[] a) {} }
